"""The inputs fingerprint: what decides whether an unchanged nightly run may keep its snapshot."""

import json
import shutil
from datetime import UTC, datetime

from typer.testing import CliRunner

from flows.cli import app as cli
from flows.config import load_settings
from flows.s1_sources.catalogue import load_catalogue
from flows.s1_sources.samples import write_sample_sources
from flows.s2_ingest.collect import ingest_source
from flows.s5_publish.fingerprint import (
    KEY,
    inputs_fingerprint,
    standing_snapshot,
    unchanged_snapshot,
)


def _ingested(tmp_path):
    sources = write_sample_sources(tmp_path / "sources")
    settings = load_settings(
        source_dir=sources, warehouse=tmp_path / "warehouse", verify_checksums=False
    )
    catalogue = load_catalogue()
    for source in catalogue.values():
        ingest_source(settings, source, datetime(2026, 1, 1, tzinfo=UTC))
    return settings, catalogue


def test_fingerprint_follows_settings_and_raw_files(tmp_path):
    settings, catalogue = _ingested(tmp_path)
    first = inputs_fingerprint(settings, catalogue)
    assert inputs_fingerprint(settings, catalogue) == first
    wider = settings.model_copy(update={"coverage_low": 0.4})
    assert inputs_fingerprint(wider, catalogue) != first
    # a new content of a moving file replaces the old one in use
    claims = settings.source_dir / "ua_general_staff/russia_losses_personnel.json"
    records = json.loads(claims.read_text())
    records[-1]["personnel"] += 1
    claims.write_text(json.dumps(records))
    ingest_source(settings, catalogue["official_claims"], datetime(2026, 1, 2, tzinfo=UTC))
    assert inputs_fingerprint(settings, catalogue) != first


def test_unchanged_snapshot_only_when_the_fingerprint_matches(tmp_path):
    warehouse = tmp_path / "warehouse"
    snapshot = warehouse / "snapshots" / "s1"
    snapshot.mkdir(parents=True)
    (snapshot / "_snapshot.json").write_text(json.dumps({KEY: "abc"}))
    assert unchanged_snapshot(warehouse, "abc") is None  # nothing is current yet
    (warehouse / "current").symlink_to("snapshots/s1")
    assert unchanged_snapshot(warehouse, "abc") == snapshot.resolve()
    assert unchanged_snapshot(warehouse, "abd") is None


def _published(tmp_path, settings, catalogue):
    snapshot = settings.warehouse / "snapshots" / "s1"
    snapshot.mkdir(parents=True)
    metadata = {KEY: inputs_fingerprint(settings, catalogue)}
    (snapshot / "_snapshot.json").write_text(json.dumps(metadata))
    (settings.warehouse / "current").symlink_to("snapshots/s1")
    return snapshot.resolve()


def test_standing_snapshot_decided_from_the_local_files(tmp_path):
    settings, catalogue = _ingested(tmp_path)
    snapshot = _published(tmp_path, settings, catalogue)
    assert standing_snapshot(settings) == snapshot
    # sources fetched from upstream are the flow's to fetch, never decided here
    assert standing_snapshot(settings.model_copy(update={"source_dir": None})) is None
    # a result-affecting setting changed: the fingerprint no longer matches
    assert standing_snapshot(settings.model_copy(update={"coverage_low": 0.4})) is None
    # one edited source file is enough to run the flow, before anything is stored
    claims = settings.source_dir / "ua_general_staff/russia_losses_personnel.json"
    records = json.loads(claims.read_text())
    records[-1]["personnel"] += 1
    claims.write_text(json.dumps(records))
    stored = sorted((settings.warehouse / "raw").rglob("*"))
    assert standing_snapshot(settings) is None
    assert sorted((settings.warehouse / "raw").rglob("*")) == stored


def test_standing_snapshot_leaves_a_missing_file_to_the_flow(tmp_path):
    settings, catalogue = _ingested(tmp_path)
    _published(tmp_path, settings, catalogue)
    (settings.source_dir / "ua_general_staff/russia_losses_personnel.json").unlink()
    assert standing_snapshot(settings) is None


def test_unchanged_cli_run_does_not_start_the_flow(demo_baseline, tmp_path, monkeypatch):
    sources, baseline = demo_baseline
    warehouse = tmp_path / "warehouse"
    shutil.copytree(baseline, warehouse, symlinks=True)

    def no_flow(**_):
        raise AssertionError("the nightly flow ran although no input changed")

    monkeypatch.setattr("flows.nightly.nightly", no_flow)
    monkeypatch.setenv("TOLL_VERIFY_CHECKSUMS", "false")
    args = ["run", "--source-dir", str(sources), "--warehouse", str(warehouse), "--json"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["unchanged"] is True and output["new_files"] == 0
    assert output["snapshot"] == str((warehouse / "current").resolve())
    # --rebuild always goes through the flow
    result = CliRunner().invoke(cli.app, [*args, "--rebuild"])
    assert result.exit_code == 1 and "the nightly flow ran" in str(result.exception)
