"""A failing `error` expectation stops the run before publish; the old snapshot stays current."""

import json
import shutil

import pytest

from flows.config import load_settings
from flows.errors import GateFailed
from flows.nightly import nightly
from flows.s1_sources.samples import write_sample_sources
from flows.s4_gate import suites as gate
from flows.warehouse.snapshots import current_snapshot, list_snapshots


@pytest.fixture()
def sample_settings(tmp_path):
    sources = write_sample_sources(tmp_path / "sources")
    return load_settings(source_dir=sources, warehouse=tmp_path / "wh", verify_checksums=False)


def test_demo_run_publishes(sample_settings):
    result = nightly(settings=sample_settings)
    snapshot = current_snapshot(sample_settings.warehouse)
    assert snapshot is not None and str(snapshot) == result.snapshot
    assert (snapshot / "fct_weekly_losses.parquet").exists()


def _suites_with_extra_check(folder, monkeypatch, severity: str) -> None:
    """Copy the real suites and add a check no weekly row can pass, at the given severity."""
    shutil.copytree(gate.EXPECTATIONS_DIR, folder)
    suite = json.loads((folder / "fct_weekly_losses.json").read_text())
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "named_deaths", "max_value": 1},
            "meta": {"severity": severity},
        }
    )
    (folder / "fct_weekly_losses.json").write_text(json.dumps(suite))
    monkeypatch.setattr(gate.load_suites, "__defaults__", (folder,))


def test_failed_error_expectation_keeps_previous_snapshot(sample_settings, tmp_path, monkeypatch):
    nightly(settings=sample_settings)
    before = current_snapshot(sample_settings.warehouse)
    _suites_with_extra_check(tmp_path / "expectations", monkeypatch, "error")

    with pytest.raises(GateFailed, match="fct_weekly_losses.named_deaths"):
        nightly(settings=sample_settings)
    assert current_snapshot(sample_settings.warehouse) == before
    assert len(list_snapshots(sample_settings.warehouse)) == 1
    # the snapshot drafted while the gate ran is removed, not left for the next run's sweep
    folder = sample_settings.warehouse / "snapshots"
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".tmp-")) == []


def test_warning_is_reported_but_publishes(sample_settings, tmp_path, monkeypatch):
    _suites_with_extra_check(tmp_path / "expectations", monkeypatch, "warning")
    nightly(settings=sample_settings)
    meta = list_snapshots(sample_settings.warehouse)[-1]
    assert meta["gate"]["failed_warnings"] >= 1


def test_every_failing_row_is_written_listed_and_linked(sample_settings, tmp_path, monkeypatch):
    """A failed check's rows, all of them, go beside the quarantine; `toll quarantine` lists
    the file and the run's `toll-gate-failures` artifact links it."""
    import polars as pl
    from helpers.toll_testing import run_cli
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.warehouse.layout import Warehouse

    nightly(settings=sample_settings)
    published = pl.read_parquet(
        current_snapshot(sample_settings.warehouse) / "fct_weekly_losses.parquet"
    )
    _suites_with_extra_check(tmp_path / "expectations", monkeypatch, "error")
    state = nightly(settings=sample_settings, return_state=True)
    assert state.name == "GateFailed"
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )

    files = Warehouse.at(sample_settings.warehouse).gate_failure_files(run.name)
    name = "fct_weekly_losses.expect_column_values_to_be_between.named_deaths.parquet"
    (path,) = [f for f in files if f.name == name]
    failing = pl.read_parquet(path)
    # the same sample data built again: every published week above the bound, no other
    assert failing.height == published.filter(pl.col("named_deaths") > 1).height > 50
    assert (failing["named_deaths"] > 1).all()

    listed = run_cli("quarantine", run.name, "--warehouse", str(sample_settings.warehouse))
    assert listed.returncode == 0, listed.stderr
    assert f"{path.stem}: {failing.height:,} rows, {path}" in listed.stdout
    # with --json, stdout stays JSON (no rows were quarantined) and the files are on stderr
    as_json = run_cli(
        "quarantine", run.name, "--json", "--warehouse", str(sample_settings.warehouse)
    )
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == []
    assert f"{path.stem}: {failing.height:,} rows, {path}" in as_json.stderr
    (artifact,) = [a for a in artifacts if a.key == "toll-gate-failures"]
    assert path.name in artifact.data and f"| {failing.height:,} |" in artifact.data
