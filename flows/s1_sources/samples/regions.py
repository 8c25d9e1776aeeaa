"""hflabs' table of Russian federal subjects, with ISO 3166-2 codes."""

from __future__ import annotations

from flows.s1_sources.catalogue import Source
from flows.s1_sources.samples.common import REGIONS, Draw, write_csv

HEADER = [
    "name",
    "type",
    "name_with_type",
    "federal_district",
    "kladr_id",
    "okato",
    "iso_code",
    "geoname_name",
]


def regions(source: Source, draw: Draw) -> dict[str, bytes]:
    rows = [
        [
            ru,
            "обл",
            ru,
            "Центральный",
            f"{i:02d}00000000000",
            f"{i:02d}000000000",
            iso if iso.startswith("UA") else f"RU-{iso}",
            en,
        ]
        for i, (en, iso, ru, _) in enumerate(REGIONS, start=1)
    ]
    return {"regions/hflabs_region.csv": write_csv(HEADER, rows)}
