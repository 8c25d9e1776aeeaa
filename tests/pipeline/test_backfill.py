"""The backfill flow: validated range, only the range's weeks rebuilt, identical on re-run, one
writer at a time, readable run names and tags, artifacts in the run."""

import hashlib
import json
import shutil
from datetime import date, timedelta

import duckdb
import pytest
from helpers.toll_testing import copy_warehouse, published_ids, run_cli
from prefect import get_client, tags
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.backfill import (
    BackfillRangeError,
    backfill,
    range_inputs,
    validate_range,
    week_bounds,
)
from flows.config import load_settings
from flows.ops.run_artifacts import DOCS_KEY, EXPECTATIONS_KEY, SUMMARY_KEY
from flows.s1_sources.catalogue import load_catalogue
from flows.warehouse.lock import warehouse_lock
from flows.warehouse.snapshots import METADATA, current_snapshot

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2024-13-01", "2024-12-31", "start '2024-13-01': expected an ISO date"),
        ("2024-03-31", "2024-01-01", "start 2024-03-31 is after end 2024-01-01"),
        ("2021-12-01", "2022-03-01", "before the war began (2022-02-24)"),
        ("2026-11-01", "2026-12-01", "end 2026-12-01 is in the future"),
    ],
)
def test_bad_ranges_are_refused_with_a_clear_error(start, end, says):
    with pytest.raises(BackfillRangeError, match=None) as info:
        validate_range(start, end, today=TODAY)
    assert says in str(info.value)


def test_range_weeks_and_inputs():
    assert validate_range("2024-01-03", "2024-01-03", today=TODAY) == (
        date(2024, 1, 3),
        date(2024, 1, 3),
    )
    # 2024-01-03 is a Wednesday, 2024-03-31 a Sunday: ISO weeks 2024-W01 .. 2024-W13
    assert week_bounds(date(2024, 1, 3), date(2024, 3, 31)) == (date(2024, 1, 1), date(2024, 3, 25))
    chosen = range_inputs(load_catalogue(), date(2024, 1, 1), date(2024, 2, 10))
    vintages = [f.as_of for f in chosen["mediazona_daily"].files if f.as_of]
    assert vintages == [date(2024, 1, 19), date(2024, 2, 2)]
    # the file without a vintage date (Mediazona's latest) covers every date, the range's too
    assert any(f.as_of is None for f in chosen["mediazona_daily"].files)
    assert "official_claims" in chosen
    # from local copies only the declared files; upstream, also each day's map of the range
    assert not any(f.optional for f in chosen["territory"].files)
    upstream = range_inputs(load_catalogue(), date(2024, 1, 1), date(2024, 2, 10), upstream=True)
    daily = [f for f in upstream["territory"].files if f.optional]
    assert [f.as_of for f in daily] == [date(2024, 1, 1) + timedelta(n) for n in range(41)]
    assert daily[0].url.endswith("/deepstatemap_data_20240101.geojson")


def test_cli_refuses_a_bad_range_before_any_work(tmp_path):
    done = run_cli(
        "backfill",
        "--start",
        "2024-03-31",
        "--end",
        "2024-01-01",
        "--warehouse",
        str(tmp_path / "warehouse"),
    )
    assert done.returncode == 1
    assert "start 2024-03-31 is after end 2024-01-01" in done.stderr + done.stdout
    assert not (tmp_path / "warehouse").exists()


def _files(snapshot):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(snapshot.glob("*.parquet"))
    }


def _rows(snapshot, sql):
    con = duckdb.connect(str(snapshot / "toll.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _correct_claims(sources, day: str, more: int) -> None:
    """The source is corrected from `day` on: the daily figure of that day rises by `more`."""
    path = sources / "ua_general_staff/russia_losses_personnel.json"
    records = json.loads(path.read_text())
    for record in records:
        if record["date"] >= day:
            record["personnel"] += more
    path.write_text(json.dumps(records, indent=4))


def _flow_run(state):
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
    return run, {a.key: a for a in artifacts}


def test_backfill_rebuilds_only_the_range_and_twice_gives_identical_tables(demo_baseline, tmp_path):
    baseline_sources, baseline = demo_baseline
    sources = tmp_path / "sources"
    shutil.copytree(baseline_sources, sources)
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    before = current_snapshot(warehouse)
    _correct_claims(sources, "2022-06-15", 1000)
    settings = load_settings(source_dir=sources, warehouse=warehouse, verify_checksums=False)

    with tags("toll", "backfill"):
        state = backfill(date(2022, 6, 1), date(2022, 6, 30), settings, return_state=True)
    assert state.is_completed(), state.message
    first = current_snapshot(warehouse)
    assert first != before

    weekly = "select week_start, claimed_personnel from fct_weekly_losses order by 1"
    old = dict(_rows(before, weekly))
    new = dict(_rows(first, weekly))
    changed = {w for w in new if new[w] != old.get(w)}
    # the corrected day is in ISO week 2022-06-13; every week outside 2022-05-30..2022-06-27
    # is the published one, even though the raw claims changed after the range too
    assert changed == {date(2022, 6, 13)}
    assert new[date(2022, 6, 13)] == old[date(2022, 6, 13)] + 1000
    daily = "select * from fct_daily_losses where date < '2022-05-30' or date > '2022-07-03'"
    assert _rows(first, daily + " order by date") == _rows(before, daily + " order by date")

    meta = json.loads((first / METADATA).read_text())
    assert meta["backfill"]["weeks"] == ["2022-05-30", "2022-06-27"]
    assert meta["backfill"]["based_on"] == before.name

    run, artifacts = _flow_run(state)
    assert run.name.startswith("backfill-2022-06-01..2022-06-30-")
    assert {"toll", "backfill"} <= set(run.tags)
    assert "rows in" in state.message and "gate passed" in state.message
    assert {SUMMARY_KEY, EXPECTATIONS_KEY, DOCS_KEY} <= set(artifacts)
    summary = artifacts[SUMMARY_KEY].data
    assert f"snapshot `{first.name}`" in summary and "| official_claims |" in summary
    table = artifacts[EXPECTATIONS_KEY].data
    table = json.loads(table) if isinstance(table, str) else table
    assert table and {"suite", "expectation", "result"} <= set(table[0])
    # markdown: [text](http://127.0.0.1:8765/<run>/index.html), served by `toll docs`
    docs = artifacts[DOCS_KEY].data
    assert docs.startswith("[GX Data Docs of this run (`toll docs`)](http://127.0.0.1:8765/")
    run_page = docs.split("http://127.0.0.1:8765/", 1)[1].rstrip(")")
    assert (warehouse / "docs" / run_page).is_file()

    # the same backfill again: a new snapshot with byte-identical tables
    again = backfill(date(2022, 6, 1), date(2022, 6, 30), settings, return_state=True)
    assert again.is_completed(), again.message
    second = current_snapshot(warehouse)
    assert second != first
    assert _files(second) == _files(first)


def test_a_second_writer_ends_with_a_clear_message_and_changes_nothing(demo_baseline, tmp_path):
    baseline_sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    settings = load_settings(
        source_dir=baseline_sources, warehouse=warehouse, verify_checksums=False
    )
    before = published_ids(warehouse)
    from flows.nightly import nightly

    # another run (here: this test) holds the warehouse; flock is per open file, so this is the
    # same as a second process
    with warehouse_lock(warehouse):
        late = backfill(date(2022, 6, 1), date(2022, 6, 30), settings, return_state=True)
        night = nightly(settings=settings, rebuild=True, return_state=True)
    for state in (late, night):
        assert state.is_failed()
        assert "another toll run is writing" in state.message
    assert published_ids(warehouse) == before
    assert not (warehouse / "work").exists()
    # the lock is released: the next run goes through
    assert backfill(date(2022, 6, 1), date(2022, 6, 30), settings, return_state=True).is_completed()
