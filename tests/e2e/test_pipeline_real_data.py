"""End to end on ../shared/data: facts checked against direct counts from the raw files."""

import csv
import json
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.config import load_settings
from flows.nightly import nightly
from flows.warehouse.raw_store import read_manifest
from flows.warehouse.snapshots import current_snapshot

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

TABLES = [
    "dim_region",
    "dim_week",
    "fct_daily_losses",
    "fct_weekly_losses",
    "fct_regional_losses",
    "fct_named_vintages",
]


@pytest.fixture(scope="module")
def published(real_data, tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("warehouse")
    settings = load_settings(source_dir=real_data, warehouse=warehouse)
    first = nightly(settings=settings)
    second = nightly(settings=settings)
    third = nightly(settings=settings, rebuild=True)
    return settings, first, second, third


def _table(snapshot, name):
    con = duckdb.connect(str(snapshot / "toll.duckdb"), read_only=True)
    try:
        return con.sql(f"select * from {name}").pl()
    finally:
        con.close()


def test_every_table_published_as_parquet_and_duckdb(published):
    settings, first, *_ = published
    snapshot = current_snapshot(settings.warehouse)
    for name in TABLES:
        assert (snapshot / f"{name}.parquet").stat().st_size > 0
        assert _table(snapshot, name).height > 0, name


def test_weekly_sums_equal_latest_vintage_changes(published, real_data):
    settings, *_ = published
    weekly = _table(current_snapshot(settings.warehouse), "fct_weekly_losses")
    by_week = Counter()
    with open(real_data / "mediazona/vintages/2026-01-30_cumsum.csv") as handle:
        for row in csv.DictReader(handle):
            day = date.fromisoformat(row["date"])
            monday = date.fromordinal(day.toordinal() - day.weekday())
            by_week[monday] += int(row["change"])
    published_weeks = {
        r["week_start"]: r["named_deaths"]
        for r in weekly.to_dicts()
        if r["named_deaths"] is not None
    }
    assert published_weeks == dict(by_week)
    assert sum(by_week.values()) == 137_930
    assert set(weekly["as_of"].drop_nulls()) == {date(2026, 1, 30)}


def test_regional_counts_equal_direct_count_of_records(published, real_data):
    settings, *_ = published
    regional = _table(current_snapshot(settings.warehouse), "fct_regional_losses")
    with open(real_data / "bessudnov/dfFatalitiesAnonymised.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert regional["named_deaths"].sum() == len(records) == 20_253
    unknown = regional.filter(regional["region_code"] == "UNKNOWN")["named_deaths"].sum()
    assert unknown == sum(1 for r in records if not r["region"]) == 358
    crimea = regional.filter(regional["region_code"] == "UA-43")["named_deaths"].sum()
    assert crimea == sum(1 for r in records if r["region"] == "Crimea")
    tuva = regional.filter(regional["region_code"] == "RU-TY")
    assert tuva["named_deaths"].sum() == sum(1 for r in records if r["region"] == "Tuva")
    assert (tuva["rate_per_100k"] > 0).all()


def test_claims_are_differences_of_cumulative_series(published, real_data):
    settings, *_ = published
    daily = _table(current_snapshot(settings.warehouse), "fct_daily_losses")
    reports = json.loads((real_data / "ua_general_staff/russia_losses_personnel.json").read_text())
    assert daily["claimed_personnel"].sum() == reports[-1]["personnel"]
    cumulative = {date.fromisoformat(r["date"]): r["personnel"] for r in reports}
    row = daily.filter(daily["date"] == date(2024, 2, 20)).to_dicts()[0]
    assert row["claimed_personnel"] == cumulative[date(2024, 2, 20)] - cumulative[date(2024, 2, 19)]


def test_row_counts_and_vintages(published):
    settings, *_ = published
    snapshot = current_snapshot(settings.warehouse)
    vintages = _table(snapshot, "fct_named_vintages")
    assert vintages["as_of"].n_unique() == 50
    daily = _table(snapshot, "fct_daily_losses")
    assert daily["date"].min() == date(2022, 2, 24)
    assert daily.height == (daily["date"].max() - date(2022, 2, 24)).days + 1
    assert _table(snapshot, "dim_week").height == _table(snapshot, "fct_weekly_losses").height
    assert _table(snapshot, "dim_region").height == 87  # 86 FIAS regions + UNKNOWN


def test_second_run_parses_nothing_and_keeps_the_snapshot(published):
    settings, first, second, _ = published
    stored = read_manifest(settings.warehouse)
    assert first.new_files == len(stored) > 0 and not first.unchanged
    assert second.new_files == 0 and second.unchanged
    assert second.snapshot == first.snapshot


def test_forced_rebuild_publishes_identical_tables(published):
    settings, first, _, third = published
    assert third.new_files == 0 and not third.unchanged
    old = Path(first.snapshot)
    new = current_snapshot(settings.warehouse)
    assert new == Path(third.snapshot) and old != new
    published_files = sorted(p.name for p in [*old.glob("*.parquet"), *old.glob("*.csv")])
    assert set(published_files) >= {
        f"{name}.{kind}" for name in TABLES for kind in ("parquet", "csv")
    }
    for name in published_files:
        assert (old / name).read_bytes() == (new / name).read_bytes(), name
