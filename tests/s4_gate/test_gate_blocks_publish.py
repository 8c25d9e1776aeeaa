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


def test_warning_is_reported_but_publishes(sample_settings, tmp_path, monkeypatch):
    _suites_with_extra_check(tmp_path / "expectations", monkeypatch, "warning")
    nightly(settings=sample_settings)
    meta = list_snapshots(sample_settings.warehouse)[-1]
    assert meta["gate"]["failed_warnings"] >= 1
