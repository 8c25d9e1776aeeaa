"""Synthetic daily full-layer DeepState maps: one snapshot per day since the invasion.

Each day reuses a real full-layer snapshot (in date order), so polygon complexity is real; a
label on its first feature names the synthetic day, which makes every file's bytes (and sha256)
unique and keeps the parser from recognising a file it has already seen. File names follow upstream:
`<unix_ts>.geojson.gz`, the instant 20:00 UTC of the day.
"""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

FIRST_DAY = date(2022, 2, 24)
REAL_FOLDER = "deepstate/deepstatemaps_history_weekly"
FOLDER = "deepstate/bench_daily"
SOURCE = "territory"
# days the real snapshots are spread over (about 1,700 days since the invasion)
SPAN_DAYS = 1_700


def real_snapshots(real_dir: Path) -> list[Path]:
    return sorted((real_dir / REAL_FOLDER).glob("*.geojson.gz"))


def map_file(day: date) -> str:
    instant = datetime(day.year, day.month, day.day, 20, tzinfo=UTC)
    return f"{FOLDER}/{int(instant.timestamp())}.geojson.gz"


def write_daily_maps(real_dir: Path, out: Path, days: int, first: int = 0) -> list[tuple]:
    """Maps for days `first` .. `first + days - 1` after the invasion; (local, as_of) each."""
    templates = real_snapshots(real_dir)
    if not templates:
        raise FileNotFoundError(f"no full-layer snapshots in {real_dir / REAL_FOLDER}")
    decoded = {}
    made = []
    for index in range(first, first + days):
        day = FIRST_DAY + timedelta(days=index)
        # the real weekly maps in date order, each for a run of days: neighbouring days differ
        # as little as real neighbouring weeks (the pipeline rejects implausible jumps)
        template = templates[min(len(templates) - 1, index * len(templates) // SPAN_DAYS)]
        if template not in decoded:
            decoded[template] = orjson.loads(gzip.decompress(template.read_bytes()))
        document = decoded[template]
        feature = document["features"][0]
        properties = dict(feature.get("properties") or {})
        properties["bench_day"] = day.isoformat()
        # the other features are serialised once per template
        rest = decoded.setdefault((template, "rest"), orjson.dumps(document["features"][1:]))
        content = _join(document, feature | {"properties": properties}, rest)
        local = map_file(day)
        target = out / local
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(content, compresslevel=6, mtime=0))
        made.append((local, day))
    return made


def _join(document: dict, first: dict, rest: bytes) -> bytes:
    head = {k: v for k, v in document.items() if k != "features"}
    opening = orjson.dumps(head)[:-1] + (b',"features":[' if head else b'{"features":[')
    body = orjson.dumps(first) + (b"," + rest[1:-1] if rest != b"[]" else b"")
    return opening + body + b"]}"
