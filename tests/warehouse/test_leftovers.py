"""Every run sweeps what killed runs left, also a run that finds nothing new: the `Snapshot ...
stands` answer given before Prefect starts, and an unchanged run of the flow."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
from helpers.cli_testing import toll
from helpers.toll_testing import copy_warehouse, fingerprint

from flows.config import load_settings
from flows.nightly import nightly
from flows.warehouse.recovery import leftovers

STAMP = "20260101T000000000000Z"


def _leave_behind(warehouse: Path) -> list[Path]:
    """What a run killed at various points leaves: the scratch database and its WAL (killed
    just after the switch of `current`), a staging snapshot, write_atomic temporaries."""
    work = warehouse / "work"
    work.mkdir(exist_ok=True)
    database = work / f"build-{STAMP}.duckdb"
    con = duckdb.connect(str(database))
    con.execute("create table t as select range as x from range(1000)")
    con.close()
    (work / f"build-{STAMP}.duckdb.wal").write_bytes(b"\0" * 4096)
    staging = warehouse / "snapshots" / f".tmp-{STAMP}"
    staging.mkdir()
    (staging / "fct_weekly_losses.parquet").write_bytes(b"half")
    raw_file = next(p for p in sorted((warehouse / "raw").rglob("*.csv")) if p.is_file())
    temporaries = [
        raw_file.with_name(f".{raw_file.name}.tmp-4242"),
        warehouse / "cache" / "raw" / ".raw_regions.parquet.tmp-4242",
        warehouse / "quarantine" / "nightly-2026-01-01-000000" / ".part.parquet.tmp-4242",
        warehouse / ".pinned.json.tmp-4242",
        warehouse / "docs" / "nightly-2026-01-01-000000" / ".index.html.tmp-4242",
    ]
    for path in temporaries:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half written")
    current_tmp = warehouse / ".current.tmp-4242"
    current_tmp.symlink_to("snapshots/" + fingerprint(warehouse)["snapshot"])
    return [database, database.with_name(database.name + ".wal"), staging, *temporaries,
            current_tmp]  # fmt: skip


def _files(warehouse: Path, leaving_out: list[Path]) -> dict[str, str]:
    """Every other file of the warehouse with its sha256 (the caches may be refreshed)."""
    out = {}
    for path in sorted(warehouse.rglob("*")):
        if any(path == p or p in path.parents for p in leaving_out):
            continue
        if path.is_file() and not path.is_symlink() and "cache" not in path.parts:
            out[str(path.relative_to(warehouse))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_an_unchanged_run_before_prefect_sweeps_leftovers_and_nothing_else(
    demo_baseline, tmp_path
):
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    left = _leave_behind(warehouse)
    assert sorted(leftovers(warehouse)) == sorted(left)
    before, files = fingerprint(warehouse), _files(warehouse, left)
    code, output = toll(
        "run",
        "--warehouse",
        str(warehouse),
        "--source-dir",
        str(sources),
        env={"TOLL_VERIFY_CHECKSUMS": "false"},
    )
    assert code == 0, output
    assert f"Snapshot {before['snapshot']} stands" in output
    assert "no flow ran" in output
    assert leftovers(warehouse) == []
    assert not any(os.path.lexists(p) for p in left), [p for p in left if os.path.lexists(p)]
    for path in left:
        assert f"removed {path}" in output.replace("\n", ""), path
    assert fingerprint(warehouse) == before
    assert _files(warehouse, left) == files


def test_an_unchanged_flow_run_sweeps_leftovers_and_nothing_else(demo_baseline, tmp_path):
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    left = _leave_behind(warehouse)
    before, files = fingerprint(warehouse), _files(warehouse, left)
    settings = load_settings(source_dir=sources, warehouse=warehouse, verify_checksums=False)
    result = nightly(settings=settings)
    assert result.unchanged
    assert leftovers(warehouse) == []
    assert not any(os.path.lexists(p) for p in left)
    assert fingerprint(warehouse) == before
    assert _files(warehouse, left) == files


def test_nothing_left_over_takes_no_lock(demo_baseline, tmp_path):
    """A read-only warehouse with nothing left over: the sweep neither writes nor fails."""
    from flows.warehouse.recovery import sweep_if_idle

    warehouse = copy_warehouse(demo_baseline[1], tmp_path / "warehouse")
    lock = warehouse / ".lock"
    lock.unlink(missing_ok=True)
    assert sweep_if_idle(warehouse) == []
    assert not lock.exists()
