"""A run on a full disk: one clear line (no OSError or DuckDB TransactionException traceback),
no temporary file left, the current snapshot unchanged, and the next run with space publishes.

The disk is a small tmpfs (root only); the ballast file fills it to leave a chosen amount free,
so that the run stops in the build (DuckDB; 384 KB, as 64 KB stopped some runs in the fetch),
in the gate's Data Docs or in the publish."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers.cli_testing import can_mount, small_disk, toll
from helpers.toll_testing import assert_intact, copy_warehouse, fingerprint, snapshot_problems

from flows.config import load_settings
from flows.errors import TollError
from flows.nightly import nightly
from flows.warehouse.recovery import leftovers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not can_mount(), reason="mounting a small tmpfs needs root"),
]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _fill(disk: Path, leave: int) -> Path:
    """A ballast file that leaves `leave` bytes free on `disk`."""
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free - leave
    with open(ballast, "wb") as handle:
        chunk = b"\0" * (1 << 20)
        while free > 0:
            handle.write(chunk[: min(free, len(chunk))])
            free -= len(chunk)
    return ballast


def _temporaries(warehouse: Path) -> list[str]:
    return [
        str(p)
        for p in warehouse.rglob("*")
        if ".tmp" in p.name or p.name.endswith(".wal") or p.name.startswith("build-")
    ]


@pytest.mark.parametrize("stage", ["build", "data docs", "publish"])
def test_a_full_disk_stops_the_run_in_one_line_and_the_next_run_recovers(
    demo_baseline, tmp_path, stage
):
    sources, baseline = demo_baseline
    docs = _size(baseline / "docs")
    leave = {"build": 384 << 10, "data docs": docs // 2, "publish": docs + (3 << 20)}[stage]
    with small_disk(tmp_path / "disk", f"{_size(baseline) + docs + (24 << 20)}") as disk:
        warehouse = copy_warehouse(baseline, disk / "warehouse")
        before = fingerprint(warehouse)
        docs_before = sorted(p.name for p in (warehouse / "docs").iterdir())
        ballast = _fill(disk, leave)
        settings = load_settings(source_dir=sources, warehouse=warehouse, verify_checksums=False)

        with pytest.raises(TollError) as info:
            nightly(settings=settings, rebuild=True)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("no space left on device writing"), message
        if stage == "build":  # DuckDB's TransactionException, naming its write-ahead log
            assert "/work/build-" in message and ".duckdb" in message, message
        assert f"nothing was published, snapshot {before['snapshot']} stays current" in message
        assert f"free space in {warehouse} and run again" in message
        assert_intact(warehouse, before)
        assert leftovers(warehouse) == [] and _temporaries(warehouse) == []
        # the failed run's half-written (or never published) Data Docs are not kept
        assert sorted(p.name for p in (warehouse / "docs").iterdir()) == docs_before

        os.unlink(ballast)
        result = nightly(settings=settings, rebuild=True)
        assert Path(result.snapshot).name != before["snapshot"]
        assert fingerprint(warehouse)["snapshot"] == Path(result.snapshot).name
        assert snapshot_problems(warehouse / "current", rerun_gate=False) == []
        assert _temporaries(warehouse) == []


def test_a_duckdb_write_failure_is_one_line_from_the_cli(demo_baseline, tmp_path, monkeypatch):
    """DuckDB says a full disk in its own exception (TransactionException: Failed to commit:
    Could not write file "...wal": No space left on device); the CLI prints one line, exit 1."""
    import duckdb

    import flows.pipeline.tasks as tasks

    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    before = fingerprint(warehouse)

    def full(con, warehouse_, *args, **kwargs):
        wal = next(warehouse_.work_folder().glob("build-*.duckdb"))
        raise duckdb.TransactionException(
            f'TransactionContext Error: Failed to commit: Could not write file "{wal}.wal": '
            "No space left on device"
        )

    monkeypatch.setattr(tasks, "build_models", full)
    code, output = toll(
        "run",
        "--rebuild",
        "--warehouse",
        str(warehouse),
        "--source-dir",
        str(sources),
        env={"TOLL_VERIFY_CHECKSUMS": "false"},
    )
    assert code == 1, output
    assert "Traceback" not in output, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("toll: no space left on device writing ") and ".duckdb.wal" in last
    assert f"snapshot {before['snapshot']} stays current" in last, last
    assert_intact(warehouse, before)
    assert leftovers(warehouse) == [] and _temporaries(warehouse) == []


def test_the_toll_script_on_a_full_disk_prints_no_traceback(demo_baseline, tmp_path):
    """As an operator sees it: Prefect logs the failed task with its exception; for DuckDB's
    TransactionException that was a traceback above toll's one line."""
    import subprocess
    import sys

    sources, baseline = demo_baseline
    with small_disk(tmp_path / "disk", f"{_size(baseline) + (8 << 20)}") as disk:
        warehouse = copy_warehouse(baseline, disk / "warehouse")
        before = fingerprint(warehouse)
        _fill(disk, 64 << 10)
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli.app", "run", "--rebuild",
             "--warehouse", str(warehouse), "--source-dir", str(sources)],
            env={**os.environ, "TOLL_VERIFY_CHECKSUMS": "false"},
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 1, output
        assert "Traceback" not in output, output
        last = output.strip().splitlines()[-1]
        assert last.startswith("toll: no space left on device writing "), output
        assert_intact(warehouse, before)
        assert _temporaries(warehouse) == []


def test_report_on_a_full_disk_is_one_line_and_leaves_no_half_report(demo_baseline, tmp_path):
    _, baseline = demo_baseline
    with small_disk(tmp_path / "disk", f"{_size(baseline) + (8 << 20)}") as disk:
        warehouse = copy_warehouse(baseline, disk / "warehouse")
        before = fingerprint(warehouse)
        _fill(disk, 64 << 10)
        code, output = toll("report", "--warehouse", str(warehouse))
        assert code == 1 and "Traceback" not in output, output
        (line,) = output.strip().splitlines()
        assert line.startswith("toll: cannot write the report to ") and "No space left" in line
        assert not (warehouse / "reports" / before["snapshot"]).exists()
        assert fingerprint(warehouse) == before
