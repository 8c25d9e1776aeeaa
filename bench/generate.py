"""Synthetic sources in the real formats at k times the real volume, deterministic with a seed.

Volumes scale with k: named records (20,253 k), Mediazona vintages (50 k, each a full rewrite
of history up to 1,436 days long), daily claims and daily area (k times as many days), weekly
series (k times as many weeks). The three small reference tables (regions, census, region
names) do not grow with volume: they are copied from the real data unchanged. The folder gets
its own `sources.toml` (no checksum pins) and `bench-source.json` describing what was made.
Numbers are invented; only the shapes, formats and quirks are real.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from bench.maps import SOURCE as MAP_SOURCE
from bench.maps import write_daily_maps

FIRST_DAY = date(2022, 2, 24)
FIRST_VINTAGE = date(2023, 12, 30)
REAL_VINTAGE_SPAN = 762  # days from the first to the last real vintage
REAL = {
    "named_records": 20_253,
    "mediazona_vintages": 50,
    "claims_days": 1_626,
    "area_days": 1_643,
    "weekly_rows": 201,
}
MAX_VINTAGE_DAYS = 1_436  # the newest real vintage: a vintage rewrites at most this many days
UNIT_TYPES = [  # with the real shares; None = empty cell (25% of real records)
    ("professional army", 6741),
    (None, 5048),
    ("inmates", 2949),
    ("volunteers", 2049),
    ("conscripted", 1856),
    ("private military company", 1091),
    ("police / national guard / FSB", 519),
]
# Sources this module makes; every other catalogue source is copied from the real data as is.
GENERATED = {
    "named_records",
    "mediazona_daily",
    "official_claims",
    "territory_area",
    "weekly_named",
}
LABEL = "GENERATED BENCHMARK DATA - invented numbers in the real formats, not real losses.\n"


def generate(real_dir: Path, out: Path, scale: float, seed: int = 2022, maps_days: int = 0) -> dict:
    """Write every tabular source at `scale` times the real volume into `out`; returns facts.

    With `maps_days`, the map source is that many daily full-layer snapshots (bench/maps.py)
    instead of the real weekly ones."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    aliases = pl.read_csv(real_dir / "bessudnov/regNames.csv")["regNameEng"].to_list()

    records = _named_records(rng, round(REAL["named_records"] * scale), aliases)
    _write(out / "bessudnov/dfFatalitiesAnonymised.csv", records)
    vintages = _mediazona(rng, out, max(1, round(REAL["mediazona_vintages"] * scale)))
    claims_end = _claims(rng, out, round(REAL["claims_days"] * scale))
    area_end = _area(rng, out, round(REAL["area_days"] * scale))
    _weekly(rng, out, round(REAL["weekly_rows"] * scale))
    maps = write_daily_maps(real_dir, out, maps_days) if maps_days else None
    _catalogue(real_dir, out, vintages, maps)
    facts = {
        "scale": scale,
        "seed": seed,
        "named_records": records.height,
        "mediazona_vintages": len(vintages),
        "mediazona_rows": sum(rows for _, rows in vintages),
        "claims_days": round(REAL["claims_days"] * scale),
        "area_days": round(REAL["area_days"] * scale),
        "daily_maps": maps_days,
        # the newest date in any source: the run date a nightly over this data is checked with
        "run_date": max(claims_end, area_end, vintages[-1][0]).isoformat(),
    }
    (out / "bench-source.json").write_text(json.dumps(facts, indent=1))
    (out / "GENERATED-BENCHMARK-DATA.txt").write_text(LABEL)
    return facts


def _write(path: Path, frame: pl.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, line_terminator="\n")


def _named_records(rng: np.random.Generator, n: int, aliases: list[str]) -> pl.DataFrame:
    # deaths confirmed 2022-02-25 .. 2023-04-11, more of them later (like the real list)
    span = (date(2023, 4, 11) - date(2022, 2, 25)).days
    offsets = np.floor(span * rng.beta(1.6, 1.0, n)).astype(np.int64)
    confirmed = pl.Series(np.datetime64("2022-02-25") + offsets).cast(pl.Date)
    no_date = rng.random(n) < 65 / 20_253
    weights = rng.dirichlet(np.full(len(aliases), 0.8))
    region = np.array(aliases, dtype=object)[rng.choice(len(aliases), n, p=weights)]
    region[rng.random(n) < 358 / 20_253] = None
    units = [u for u, _ in UNIT_TYPES]
    shares = np.array([c for _, c in UNIT_TYPES], dtype=float)
    unit = np.array(units, dtype=object)[rng.choice(len(units), n, p=shares / shares.sum())]
    birth = rng.integers(1951, 2005, n).astype(float)
    birth[rng.random(n) < 6_475 / 20_253] = np.nan
    age = 2022 - birth + rng.integers(0, 2, n)
    age[rng.random(n) < 0.002] = np.nan
    links = rng.integers(0, 4, n)  # 0 links = empty cell; several links, some across lines
    separator = np.where(rng.random(n) < 0.3, "\n", " ")
    source = [
        None
        if k == 0
        else sep.join(f"https://archive.ph/{i:x}{j}" for j in range(k))
        + (" (5)" if i % 17 == 0 else "")
        for i, (k, sep) in enumerate(zip(links.tolist(), separator.tolist(), strict=True))
    ]
    ids = rng.permutation(np.arange(1, n + 1))
    return pl.DataFrame(
        {
            "id": ids,
            "first_name": "removed",
            "last_name": "removed",
            "impliedEthnicity": "removed",
            "birthYear": pl.Series(birth, nan_to_null=True).cast(pl.Int64),
            "deathConfirmedDate": pl.Series(confirmed).set(pl.Series(no_date), None),
            "unitType": pl.Series(unit, dtype=pl.String),
            "age": pl.Series(age, nan_to_null=True).cast(pl.Int64),
            "region": pl.Series(region, dtype=pl.String),
            "source": pl.Series(source, dtype=pl.String),
        }
    )


def _mediazona(rng: np.random.Generator, out: Path, n: int) -> list[tuple[date, int]]:
    """One `<as_of>_cumsum.csv` per vintage: every vintage knows more about past days."""
    step = max(1.0, REAL_VINTAGE_SPAN / max(1, n - 1))
    as_of = [FIRST_VINTAGE + timedelta(days=round(i * step)) for i in range(n)]
    horizon = (as_of[-1] - FIRST_DAY).days
    # deaths that will eventually be named, per day of death: a noisy, drifting level
    level = 60 + 140 * np.abs(np.sin(np.arange(horizon) / 240.0)) + rng.gamma(2.0, 15.0, horizon)
    eventual = np.floor(level).astype(np.int64)
    folder = out / "mediazona" / "vintages"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    padded_from = 0
    for vintage in as_of:
        days = (vintage - FIRST_DAY).days  # the vintage describes days before its as_of date
        lag = days - np.arange(days)
        known = np.floor(eventual[:days] * (1 - np.exp(-lag / 150.0))).astype(np.int64)
        # trailing days padded with zeros until the scrape; a day a vintage has counted is not
        # padded again by a later one (as in the real data: names are added, rarely removed,
        # and the gate fails a vintage that lowers a past week)
        padded_from = max(padded_from, days - int(rng.integers(2, 12)))
        known[padded_from:] = 0
        # a long history keeps its newest days only, cut at a Monday: the running total starts
        # at the file's first day, and no week is cut in part (that would lower the week)
        start = max(0, days - MAX_VINTAGE_DAYS)
        start += -(FIRST_DAY + timedelta(days=start)).weekday() % 7 if start else 0
        frame = pl.DataFrame(
            {
                "date": pl.date_range(
                    FIRST_DAY + timedelta(days=start),
                    FIRST_DAY + timedelta(days=days - 1),
                    eager=True,
                ),
                "change": known[start:],
                "total": np.cumsum(known[start:]),
            }
        )
        _write(folder / f"{vintage.isoformat()}_cumsum.csv", frame)
        made.append((vintage, frame.height))
    shutil.copyfile(folder / f"{as_of[-1].isoformat()}_cumsum.csv", out / "mediazona/last_data.csv")
    return made


def _claims(rng: np.random.Generator, out: Path, days: int) -> date:
    first = date(2022, 2, 25)
    daily = rng.poisson(np.clip(500 + 400 * np.sin(np.arange(days) / 300.0), 50, None))
    daily[0] = 2_800  # the first report covers 24-25 February
    cumulative = np.cumsum(daily)
    records = []
    for i in range(days):
        record = {
            "date": (first + timedelta(days=i)).isoformat(),
            "day": i + 2,
            "personnel": int(cumulative[i]),
            "personnel*": "more" if i % 271 == 5 else "about",
        }
        if i < 62:
            record["POW"] = i * 10
        records.append(record)
    path = out / "ua_general_staff/russia_losses_personnel.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=4, ensure_ascii=False))
    return first + timedelta(days=days - 1)


def _area(rng: np.random.Generator, out: Path, days: int) -> date:
    first = date(2022, 2, 22)
    # square metres: a bounded random walk between 40,000 and 130,000 km² (Ukraine: 603,548)
    steps = rng.normal(2e7, 1.5e8, days)
    area = np.empty(days)
    current = 4.3679e10
    for i, change in enumerate(steps):
        current = min(1.3e11, max(4.0e10, current + change))
        area[i] = current
    dates = pl.date_range(first, first + timedelta(days=days - 1), eager=True)
    frame = pl.DataFrame(
        {
            "date": dates,
            "area_assessed_as_russia_controlled": area,
            "change_in_area_assessed_as_russia_controlled": np.r_[np.nan, np.diff(area)],
            "change_in_area_assessed_as_russia_controlled_in_past_7_days": np.nan,
            "change_in_area_assessed_as_russia_controlled_in_past_30_days": np.nan,
            "area_assessed_as_russia_controlled_percent": area / 6.03548e9,
        }
    ).fill_nan(None)
    # the real file repeats one day with the same area
    repeated = frame.slice(days - 140, 1)
    frame = pl.concat([frame.slice(0, days - 139), repeated, frame.slice(days - 139)])
    _write(out / "economist/area_assessed_as_controlled_by_russia.csv", frame)
    return first + timedelta(days=days - 1)


def _weekly(rng: np.random.Generator, out: Path, weeks: int) -> None:
    mondays = [date(2022, 2, 21) + timedelta(weeks=w) for w in range(weeks)]
    iso = [m.isocalendar() for m in mondays]
    named = rng.integers(100, 1_500, weeks)
    estimate = named * rng.uniform(1.1, 1.6, weeks)
    predicted = np.arange(weeks) >= weeks - 26  # the trailing half-year is a model prediction
    frame = pl.DataFrame(
        {
            "Year": [i.year for i in iso],
            "Week": [i.week for i in iso],
            "BmzNow": named,
            "Bmz2022": named // 2,
            "Bmz2023": named * 2 // 3,
            "Bmz2024": named * 5 // 6,
            "Bmz2025": named,
            "ECSuperlates": rng.normal(0, 20, weeks),
            "EDSuperlatesFromCoeffs": rng.normal(0, 20, weeks),
            "EDSuperlatesCourts": rng.normal(0, 20, weeks),
            "ED": np.where(predicted, np.nan, estimate),
            "EDHigh": np.where(predicted, np.nan, estimate * 1.3),
            "EDLow": np.where(predicted, np.nan, estimate * 0.7),
            "EDPrediction": np.where(predicted, estimate, np.nan),
            "EDPredictionHigh": np.where(predicted, estimate * 1.3, np.nan),
            "EDPredictionLow": np.where(predicted, estimate * 0.7, np.nan),
            "EDAssembled": estimate * 1.05,
            "EDAssembledHigh": estimate * 1.35,
            "EDAssembledLow": estimate * 0.75,
        }
    ).fill_nan(None)
    _write(out / "economist/meduza_2026_weekly.csv", frame)


def _catalogue(
    real_dir: Path, out: Path, vintages: list[tuple[date, int]], maps: list | None = None
) -> None:
    """The built-in catalogue's sources with this folder's files, no checksum pins; the
    sources not generated here (reference tables, maps) are copied from the real data."""
    from flows.s1_sources.catalogue import load_catalogue

    real = load_catalogue()
    lines = ["# Generated by bench/generate.py for synthetic benchmark data.", ""]
    for source in real.values():
        lines += [
            f"[sources.{source.name}]",
            f"title = {json.dumps(source.title)}",
            f"format = {json.dumps(source.format)}",
            f"licence = {json.dumps('synthetic benchmark data')}",
        ]
        if source.keep_all_vintages:
            lines.append('keep = "all"')
        lines.append("")
        if source.name == "mediazona_daily":
            files = [(f"mediazona/vintages/{v.isoformat()}_cumsum.csv", v) for v, _ in vintages]
            files.append(("mediazona/last_data.csv", None))
        elif source.name == MAP_SOURCE and maps:
            files = maps
        else:
            files = [(f.local, f.as_of) for f in source.files]
        if source.name not in GENERATED and not (source.name == MAP_SOURCE and maps):
            for local, _ in files:
                (out / local).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(real_dir / local, out / local)
        for local, as_of in files:
            lines += [
                f"[[sources.{source.name}.files]]",
                f'local = "{local}"',
                f'url = "https://example.invalid/bench/{local}"',
            ]
            if as_of is not None:
                lines.append(f'as_of = "{as_of.isoformat()}"')
            lines.append("")
    (out / "sources.toml").write_text("\n".join(lines))


def add_map_file(local: str, day: date, out: Path) -> None:
    """Append one map file to the generated catalogue (a new snapshot for the next nightly)."""
    with open(out / "sources.toml", "a", encoding="utf-8") as catalogue:
        catalogue.write(
            f"[[sources.{MAP_SOURCE}.files]]\n"
            f'local = "{local}"\nurl = "https://example.invalid/bench/{local}"\n'
            f'as_of = "{day.isoformat()}"\n\n'
        )
