"""kill -9 at each stage of a run: the published snapshot stays whole, the next run recovers."""

from __future__ import annotations

import signal

import pytest
from helpers.toll_testing import (
    assert_intact,
    copy_warehouse,
    fingerprint,
    leftovers,
    published_ids,
    run_cli,
    snapshot_problems,
    with_one_more_claims_report,
)

from flows.config import load_settings
from flows.nightly import nightly
from flows.pipeline.crash_points import CRASH_ENV, POINTS
from flows.warehouse.raw_store import read_manifest
from flows.warehouse.snapshots import current_snapshot

pytestmark = pytest.mark.slow


def test_baseline_snapshot_passes_the_gate(demo_baseline):
    _, warehouse = demo_baseline
    assert snapshot_problems(current_snapshot(warehouse)) == []


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_stage_keeps_current_snapshot_and_next_run_recovers(
    demo_baseline, tmp_path, point
):
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    changed = with_one_more_claims_report(sources, tmp_path / "sources")
    before = fingerprint(warehouse)
    published_before = published_ids(warehouse)
    manifest_before = read_manifest(warehouse)

    killed = run_cli(
        "run", "--source-dir", str(changed), "--warehouse", str(warehouse),
        env={CRASH_ENV: point},
    )  # fmt: skip

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert_intact(warehouse, before)
    # Nothing temporary is listed as published: only complete, renamed snapshots count.
    after_crash = published_ids(warehouse)
    if point == "switch":
        # Renamed whole but not yet made current: complete, listed, not current.
        assert len(after_crash) == len(published_before) + 1
        assert snapshot_problems(warehouse / "snapshots" / after_crash[-1], False) == []
    else:
        assert after_crash == published_before
    # Raw inputs already kept are all still there, byte for byte.
    for entry in manifest_before:
        assert (warehouse / entry.raw_path).exists()

    settings = load_settings(source_dir=changed, warehouse=warehouse, verify_checksums=False)
    result = nightly(settings=settings)

    assert leftovers(warehouse) == []
    snapshot = current_snapshot(warehouse)
    assert str(snapshot) == result.snapshot
    assert snapshot.name not in after_crash
    assert snapshot_problems(snapshot, rerun_gate=False) == []
    claims = [e for e in read_manifest(warehouse) if e.source == "official_claims"]
    assert len(claims) == 2  # the changed file was kept once, whatever the crash interrupted
