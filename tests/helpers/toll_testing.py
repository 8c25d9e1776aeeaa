"""Shared helpers for the robustness tests: a published baseline, snapshot checks, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from flows.config import load_settings
from flows.s4_gate import suites as gate
from flows.s4_gate.gate import gate_parameters
from flows.warehouse.recovery import leftovers
from flows.warehouse.snapshots import METADATA, current_snapshot, list_snapshots

REPO = Path(__file__).resolve().parents[2]


def fingerprint(warehouse: Path) -> dict:
    """What readers see: the current snapshot's id and the sha256 of each of its files."""
    snapshot = current_snapshot(warehouse)
    assert snapshot is not None, f"no current snapshot in {warehouse}"
    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(snapshot.iterdir())
        if p.is_file()
    }
    return {"snapshot": snapshot.name, "files": files}


def snapshot_problems(snapshot: Path, rerun_gate: bool = True) -> list[str]:
    """Empty when the snapshot holds every table its `_snapshot.json` lists and passes the gate.

    Until `toll validate` exists this is the check: files against the metadata, then the mart
    suites of the gate re-run on the published Parquet files.
    """
    problems: list[str] = []
    meta = json.loads((snapshot / METADATA).read_text())
    con = duckdb.connect()
    published = duckdb.connect(str(snapshot / "toll.duckdb"), read_only=True)
    try:
        for table, rows in meta["tables"].items():
            path = snapshot / f"{table}.parquet"
            if not path.exists():
                problems.append(f"{table}.parquet missing")
                continue
            con.read_parquet(str(path)).create_view(table)
            found = con.execute(f'select count(*) from "{table}"').fetchall()[0][0]
            in_db = published.execute(f'select count(*) from "{table}"').fetchall()[0][0]
            if not found == in_db == rows:
                problems.append(f"{table}: {found} rows in Parquet, {in_db} in DuckDB, {rows} meta")
        if not rerun_gate:
            return problems
        suites = {n: s for n, s in gate.load_suites().items() if n in meta["tables"]}
        parameters = gate_parameters(load_settings(), datetime.now(UTC).date())
        checks = gate.run_gate(con, parameters, suites)
        problems += [c.describe() for c in gate.blocking(checks)]
    finally:
        con.close()
        published.close()
    return problems


def assert_intact(warehouse: Path, before: dict) -> None:
    """The published snapshot is the same, byte for byte (so still the valid one it was)."""
    assert fingerprint(warehouse) == before
    assert snapshot_problems(current_snapshot(warehouse), rerun_gate=False) == []


def copy_warehouse(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`toll ...` in a fresh process, talking to the test session's Prefect server."""
    import prefect.settings

    full_env = {
        **os.environ,
        "PREFECT_API_URL": str(prefect.settings.PREFECT_API_URL.value()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "TOLL_VERIFY_CHECKSUMS": "false",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "flows.cli.app", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def published_ids(warehouse: Path) -> list[str]:
    return [m["snapshot"] for m in list_snapshots(warehouse)]


__all__ = [
    "assert_intact",
    "copy_warehouse",
    "fingerprint",
    "leftovers",
    "published_ids",
    "run_cli",
    "snapshot_problems",
]


CLAIMS_FILE = "ua_general_staff/russia_losses_personnel.json"


def with_one_more_claims_report(sources: Path, target: Path) -> Path:
    """A copy of the sources where the official claims gained a day: the run has work to do."""
    shutil.copytree(sources, target)
    path = target / CLAIMS_FILE
    reports = json.loads(path.read_text())
    last = reports[-1]
    reports.append(
        {
            **last,
            "date": (date.fromisoformat(last["date"]) + timedelta(1)).isoformat(),
            "day": last["day"] + 1,
            "personnel": last["personnel"] + 500,
        }
    )
    path.write_text(json.dumps(reports))
    return target
