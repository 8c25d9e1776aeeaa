"""The run-summary artifact opens with the headline and what changed; unchanged files collapse."""

from __future__ import annotations

from flows.ops.run_artifacts import summary_markdown
from flows.s2_ingest.collect import FileOutcome, SourceOutcome
from flows.warehouse.snapshots import current_snapshot


def test_summary_starts_with_the_headline_and_collapses_unchanged_files(demo_baseline):
    _, warehouse = demo_baseline
    maps = SourceOutcome("territory")
    maps.files = [
        FileOutcome(f"m{n}.geojson", "file:///x", "unchanged", "ab" * 32) for n in range(250)
    ]
    maps.files.append(FileOutcome("new.geojson", "file:///y", "new", "cd" * 32, rows=1))
    text = summary_markdown("nightly test", [maps], [], current_snapshot(warehouse))
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[:2] == ["## Headline", "## What changed since the last publish"]
    assert sections[-1] == "## Sources"
    assert "| territory | 250 file(s) | unchanged (not parsed again) | | | |" in text
    assert "new.geojson" in text and "m17.geojson" not in text
    assert len(text.splitlines()) < 80
