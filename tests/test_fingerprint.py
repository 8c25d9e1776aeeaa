"""The inputs fingerprint: what decides whether an unchanged nightly run may keep its snapshot."""

import json
from datetime import UTC, datetime

from flows.config import load_settings
from flows.fingerprint import KEY, inputs_fingerprint, unchanged_snapshot
from flows.ingest.collect import ingest_source
from flows.sample_sources import write_sample_sources
from flows.sources import load_catalogue


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
