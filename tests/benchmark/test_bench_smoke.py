"""Smoke test of the benchmark at 1x (the real data): the cold nightly's published weekly and
regional facts equal the hand-written DuckDB reference's. Correctness only: the timings it
prints depend on the machine and are not asserted; the nowcast's back-test scores are."""

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
    written = json.loads(results.read_text())
    measured = written["scales"]["1x"]
    assert measured["steps"]["cold"]["status"] == "ok"
    assert measured["steps"]["reference"]["rows"]["ref_weekly_losses"] > 100
    assert measured["equal"] is True, measured["differences"]
    # issue 16's nowcast targets, measured on the published back-test and printed
    assert measured["nowcast"]["5-25"]["cutoffs"] >= 20
    assert set(measured["nowcast"]) == {"5-25", "5-9", "10-14", "15-19", "20-25"}
    for name in ("nowcast_total_mae_1x", "nowcast_abs_bias_1x", "nowcast_band_coverage_1x"):
        assert written["targets"][name]["met"] is True, written["targets"][name]
    assert "nowcast back-test (real data)" in done.stdout
    assert "lags 5-25" in done.stdout


def test_the_reference_alone_is_not_compared_and_not_a_failure(real_data, tmp_path):
    # the map targets' command (bench/README.md) runs the 1x reference without a 1x pipeline run
    results = tmp_path / "results.json"
    command = [sys.executable, "-m", "bench", "--scales", "1", "--steps", "reference"]
    command += ["--out", str(tmp_path), "--real-data", str(real_data), "--json", str(results)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    measured = json.loads(results.read_text())["scales"]["1x"]
    assert measured["steps"]["reference"]["status"] == "ok"
    assert measured["equal"] is None
    assert "reference check: not compared" in done.stdout
