"""Stage 6, report: the HTML report with PNG charts, built from a snapshot's published tables."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from flows.s6_report.charts import CHARTS, render_png
from flows.s6_report.document import render_html, render_markdown
from flows.s6_report.figures import backtest_scores, read_figures

REPORT_DIR = "report"
REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"


def write_report(snapshot_dir: Path, out_dir: Path | None = None, snapshot: str = "") -> Path:
    """Read `toll.duckdb` in a snapshot folder, write the report into it (or into out_dir)."""
    out = out_dir or snapshot_dir / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    metadata_path = snapshot_dir / "_snapshot.json"
    settings = json.loads(metadata_path.read_text())["settings"] if metadata_path.exists() else None
    con = duckdb.connect(str(snapshot_dir / "toll.duckdb"), read_only=True)
    try:
        figures = read_figures(con, settings or _settings_from_defaults())
    finally:
        con.close()
    charts = {}
    for name, build in CHARTS.items():
        charts[name] = render_png(build(figures))
        (out / name).write_bytes(charts[name])
    snapshot = snapshot or snapshot_dir.name
    (out / REPORT_HTML).write_text(render_html(figures, charts, snapshot), encoding="utf-8")
    (out / SUMMARY_MD).write_text(render_markdown(figures, snapshot), encoding="utf-8")
    (out / "nowcast_backtest.json").write_text(
        json.dumps(backtest_scores(figures.backtest), indent=2)
    )
    return out


def _settings_from_defaults() -> dict:
    from flows.config import Settings

    return Settings().result_affecting()
