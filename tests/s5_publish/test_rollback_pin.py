"""A rollback pins `current`: runs leave it there until the pin is released."""

from __future__ import annotations

import shutil

import pytest

from flows.config import load_settings
from flows.nightly import nightly
from flows.s5_publish.snapshots import release, rollback
from flows.warehouse.snapshots import current_snapshot, list_snapshots, read_pin


@pytest.mark.slow
def test_a_pinned_rollback_holds_until_released(demo_baseline, tmp_path):
    sources, baseline = demo_baseline
    warehouse = tmp_path / "warehouse"
    shutil.copytree(baseline, warehouse, symlinks=True)
    settings = load_settings(source_dir=sources, warehouse=warehouse, verify_checksums=False)
    held = current_snapshot(warehouse)
    rollback(warehouse, held.name)
    assert read_pin(warehouse)["snapshot"] == held.name

    state = nightly(settings=settings, rebuild=True, return_state=True)
    assert state.is_completed() and state.name == "Pinned"
    assert "toll rollback --release" in state.message
    assert current_snapshot(warehouse) == held and len(list_snapshots(warehouse)) == 1

    assert release(warehouse)["snapshot"] == held.name and read_pin(warehouse) is None
    state = nightly(settings=settings, rebuild=True, return_state=True)
    assert state.name == "Published" and current_snapshot(warehouse) != held
