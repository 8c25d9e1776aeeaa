"""Mediazona's daily named deaths: one cumulative CSV per vintage, and the latest one."""

from __future__ import annotations

import random
from datetime import timedelta

from flows.s1_sources.catalogue import Source
from flows.s1_sources.samples.common import FIRST, Draw, write_csv


def mediazona_daily(source: Source, draw: Draw) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for spec in source.files:
        # each vintage knows a little more: later as_of, longer history
        if spec.as_of is None:
            continue
        length = min(draw.days, max(30, (spec.as_of - FIRST).days - 600))
        files[spec.local] = cumulative_csv(length, random.Random(draw.seed), pad=5)
    last_vintage = max(f.as_of for f in source.files if f.as_of)
    latest = next(f for f in source.files if f.as_of == last_vintage)
    files["mediazona/last_data.csv"] = files[latest.local]
    return files


def cumulative_csv(days: int, rng: random.Random, pad: int) -> bytes:
    """`date,change,total` from the first day on; the last `pad` days are zeros (not yet known)."""
    rows, total = [], 0
    for i in range(days):
        change = 0 if i >= days - pad else rng.randint(5, 60)
        total += change
        rows.append([(FIRST + timedelta(i)).isoformat(), change, total])
    return write_csv(["date", "change", "total"], rows)
