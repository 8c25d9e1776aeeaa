"""Smoke test of the benchmark at 1x (the real data): the cold nightly's published weekly and
regional facts equal the hand-written DuckDB reference's. Correctness only: the timings it
prints depend on the machine and are not asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_1x_matches_the_duckdb_reference(real_data, tmp_path):
    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "bench", "--scales", "1", "--steps", "cold", "reference"]
    command += ["--out", str(tmp_path), "--real-data", str(real_data), "--json", str(results)]
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    measured = json.loads(results.read_text())["scales"]["1x"]
    assert measured["steps"]["cold"]["status"] == "ok"
    assert measured["steps"]["reference"]["rows"]["ref_weekly_losses"] > 100
    assert measured["equal"] is True, measured["differences"]
