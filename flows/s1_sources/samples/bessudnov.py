"""Bessudnov's replication data: anonymised named records, census men, region names."""

from __future__ import annotations

from datetime import timedelta

from flows.s1_sources.catalogue import Source
from flows.s1_sources.samples.common import FIRST, REGIONS, UNITS, Draw, write_csv

RECORDS_HEADER = [
    "id",
    "first_name",
    "last_name",
    "birthYear",
    "deathConfirmedDate",
    "unitType",
    "impliedEthnicity",
    "age",
    "region",
    "source",
]


def named_records(source: Source, draw: Draw) -> dict[str, bytes]:
    """300 records; some without region or birth year, each `source` cell with a newline."""
    rng, records = draw.rng, []
    for i in range(1, 301):
        region = rng.choice(REGIONS + [None])
        confirmed = FIRST + timedelta(rng.randint(1, draw.days - 1))
        records.append(
            [
                i,
                "removed",
                "removed",
                rng.choice(["", "1990.0", "1985.0"]),
                confirmed.isoformat(),
                rng.choice(UNITS),
                "removed",
                "",
                region[0] if region else "",
                "https://example.org/a\nhttps://example.org/b",
            ]
        )
    return {"bessudnov/dfFatalitiesAnonymised.csv": write_csv(RECORDS_HEADER, records)}


def census_men(source: Source, draw: Draw) -> dict[str, bytes]:
    header = ["region", "nMen16_615_2021", "regNameEng", "regNameISO"]
    rows = [[ru, men, en, iso] for en, iso, ru, men in REGIONS]
    return {"bessudnov/census2021_nMen16-615.csv": write_csv(header, rows)}


def region_names(source: Source, draw: Draw) -> dict[str, bytes]:
    header = ["g_00_4_regterson", "regName", "regNameEng", "regNameISO"]
    rows = [[1000 + i, ru, en, iso] for i, (en, iso, ru, _) in enumerate(REGIONS)]
    return {"bessudnov/regNames.csv": write_csv(header, rows)}
