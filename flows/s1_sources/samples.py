"""Generated sample sources in the real formats, for tests and `toll run --demo`.

Seeded and clearly labelled: these numbers are invented and describe nothing real.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flows.s1_sources.catalogue import load_catalogue
from flows.s2_ingest.parsers.deepstate import snapshot_instant

LABEL = "GENERATED SAMPLE DATA - invented numbers for trying toll, not real losses.\n"
REGIONS = [  # (regNameEng, regNameISO, Russian name, men 16-61.5)
    ("Moscow Oblast", "MOS", "Московская область", 2_300_000),
    ("St.Petersburg", "SPE", "Санкт-Петербург", 1_600_000),
    ("Tuva", "TY", "Республика Тыва", 90_000),
    ("Crimea", "UA-43", "Республика Крым", 557_000),
]
UNITS = ["professional army", "inmates", "volunteers", "conscripted"]
FIRST = date(2022, 2, 24)


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _cumsum(days: int, rng: random.Random, pad: int) -> bytes:
    rows, total = [], 0
    for i in range(days):
        change = 0 if i >= days - pad else rng.randint(5, 60)
        total += change
        rows.append([(FIRST + timedelta(i)).isoformat(), change, total])
    return _csv(["date", "change", "total"], rows)


def sample_files(seed: int = 7, days: int = 400) -> dict[str, bytes]:
    """Every catalogue file a run needs, keyed by its path relative to the source folder."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    catalogue = load_catalogue()
    for spec in catalogue["mediazona_daily"].files:
        # each vintage knows a little more: later as_of, longer history
        if spec.as_of is None:
            continue
        length = min(days, max(30, (spec.as_of - FIRST).days - 600))
        files[spec.local] = _cumsum(length, random.Random(seed), pad=5)
    last_vintage = max(f.as_of for f in catalogue["mediazona_daily"].files if f.as_of)
    latest = next(f for f in catalogue["mediazona_daily"].files if f.as_of == last_vintage)
    files["mediazona/last_data.csv"] = files[latest.local]

    weekly_header = [
        "Year",
        "Week",
        "BmzNow",
        "Bmz2022",
        "Bmz2023",
        "Bmz2024",
        "Bmz2025",
        "ED",
        "EDHigh",
        "EDLow",
        "EDPrediction",
        "EDPredictionHigh",
        "EDPredictionLow",
        "EDAssembled",
        "EDAssembledHigh",
        "EDAssembledLow",
    ]
    weekly = []
    for w in range(days // 7):
        monday = date(2022, 2, 21) + timedelta(weeks=w)
        iso = monday.isocalendar()
        named = rng.randint(100, 400)
        weekly.append(
            [
                iso.year,
                iso.week,
                named,
                "",
                "",
                "",
                named,
                named * 1.2,
                named * 1.5,
                named,
                "",
                "",
                "",
                named * 1.3,
                named * 1.6,
                named * 1.1,
            ]
        )
    files["economist/meduza_2026_weekly.csv"] = b"\xef\xbb\xbf" + _csv(weekly_header, weekly)

    records = []
    for i in range(1, 301):
        region = rng.choice(REGIONS + [None])
        confirmed = FIRST + timedelta(rng.randint(1, days - 1))
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
    files["bessudnov/dfFatalitiesAnonymised.csv"] = _csv(
        [
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
        ],
        records,
    )
    files["bessudnov/census2021_nMen16-615.csv"] = _csv(
        ["region", "nMen16_615_2021", "regNameEng", "regNameISO"],
        [[ru, men, en, iso] for en, iso, ru, men in REGIONS],
    )
    files["bessudnov/regNames.csv"] = _csv(
        ["g_00_4_regterson", "regName", "regNameEng", "regNameISO"],
        [[1000 + i, ru, en, iso] for i, (en, iso, ru, _) in enumerate(REGIONS)],
    )
    files["regions/hflabs_region.csv"] = _csv(
        [
            "name",
            "type",
            "name_with_type",
            "federal_district",
            "kladr_id",
            "okato",
            "iso_code",
            "geoname_name",
        ],
        [
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
        ],
    )
    claims, cumulative = [], 0
    for i in range(1, days):
        cumulative += rng.randint(100, 900)
        claims.append(
            {
                "date": (FIRST + timedelta(i)).isoformat(),
                "day": i + 1,
                "personnel": cumulative,
                "personnel*": "about",
            }
        )
    files["ua_general_staff/russia_losses_personnel.json"] = json.dumps(claims, indent=4).encode()
    area, rows = 43_679_052_552.0, []
    for i in range(days):
        area += rng.uniform(-1e6, 2e8)
        rows.append([(FIRST + timedelta(i)).isoformat(), area, "", "", "", area / 6.03548e9])
    files["economist/area_assessed_as_controlled_by_russia.csv"] = _csv(
        [
            "date",
            "area_assessed_as_russia_controlled",
            "change_in_area_assessed_as_russia_controlled",
            "change_in_area_assessed_as_russia_controlled_in_past_7_days",
            "change_in_area_assessed_as_russia_controlled_in_past_30_days",
            "area_assessed_as_russia_controlled_percent",
        ],
        rows,
    )
    files["economist/soldier_deaths_casualties_estimates.csv"] = _csv(
        [
            "date",
            "estimate_low",
            "estimate_high",
            "estimate",
            "type",
            "source",
            "source_url",
            "country",
            "ignore for chart, data from warring parties",
        ],
        [
            [
                "1/6/2022",
                "10000",
                "15,000",
                "",
                "deaths",
                "Sample agency",
                "https://example.org/1",
                "russia",
                "",
            ],
            [
                "01/03/2023",
                "",
                "",
                "90000",
                "casualties",
                "Sample ministry",
                "https://example.org/2",
                "russia",
                "yes",
            ],
        ],
    )
    for spec in catalogue["territory"].files:
        files[spec.local] = sample_map(
            snapshot_instant(spec.local)[1], full="history" in spec.local
        )
    return files


# invented boxes (west, south, east, north) per map layer; the first one grows eastwards
SAMPLE_LAYERS = [
    ("Окуповано /// Occupied /// geoJSON.status.occupied\n", (35.0, 46.5, 36.0, 47.5), True),
    (
        "Окупований Крим /// Occupied Crimea\xa0/// geoJSON.territories.crimea",
        (33.5, 44.5, 36.5, 46.0),
        True,
    ),
    ("ОРДЛО /// CADR and CALR\xa0/// geoJSON.territories.ordlo", (38.5, 47.5, 40.0, 49.0), True),
    (
        "Статус невідомий /// Unknown status /// geoJSON.status.unknown",
        (36.0, 47.5, 36.2, 47.7),
        False,
    ),
    (
        "Придністров'я/// Transnistria /// geoJSON.territories.transnistria",
        (29, 46.5, 30, 48),
        False,
    ),
]


def sample_map(instant: datetime, full: bool) -> bytes:
    """An invented map in either DeepState format (gzip, like the staged copies)."""
    grown = (instant - datetime(2023, 12, 24, tzinfo=UTC)).total_seconds() / 86_400 / 500
    layers = []
    for number, (name, (west, south, east, north), occupied) in enumerate(SAMPLE_LAYERS):
        east += grown if number == 0 else 0
        ring = [[west, south, 0], [east, south, 0], [east, north, 0], [west, north, 0]]
        layers.append((name, [[*ring, ring[0]]], occupied))
    if full:
        features = [
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {"type": "Polygon", "coordinates": rings},
            }
            for name, rings, _ in layers
        ]
    else:
        parts = [[[point[:2] for point in rings[0]]] for _, rings, occupied in layers if occupied]
        features = [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "MultiPolygon", "coordinates": parts},
            }
        ]
    document = {"type": "FeatureCollection", "features": features}
    return gzip.compress(json.dumps(document, ensure_ascii=False).encode(), mtime=0)


def write_sample_sources(folder: Path, seed: int = 7) -> Path:
    """Write the sample files laid out like ../shared/data; returns the folder."""
    for relative, content in sample_files(seed).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (folder / "GENERATED-SAMPLE-DATA.txt").write_text(LABEL)
    return folder
