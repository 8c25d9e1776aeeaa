"""Stage 6, report: the HTML report with PNG charts, built from a snapshot's published tables."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import altair as alt
import duckdb

from flows.s6_report.charts import CHART_DATA, CHARTS, render_png
from flows.s6_report.document import render_html, render_markdown
from flows.s6_report.figures import backtest_scores, read_figures

REPORT_DIR = "report"
REPORT_HTML = "report.html"
SUMMARY_MD = "summary.md"


def write_report(
    snapshot_dir: Path,
    out_dir: Path | None = None,
    snapshot: str = "",
    metadata: dict | None = None,
) -> Path:
    """Read `toll.duckdb` in a snapshot folder, write the report into it (or into out_dir).

    `metadata`: the snapshot's `settings` and `sources`, for a snapshot whose `_snapshot.json`
    is not written yet (read from it otherwise)."""
    out = out_dir or snapshot_dir / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    if metadata is None:
        metadata_path = snapshot_dir / "_snapshot.json"
        metadata = json.loads(metadata_path.read_text()) if metadata_path.exists() else {}
    settings = metadata.get("settings")
    con = duckdb.connect(str(snapshot_dir / "toll.duckdb"), read_only=True)
    try:
        figures = read_figures(con, settings or _settings_from_defaults())
    finally:
        con.close()
    figures = replace(figures, invented=invented(metadata))
    charts = {}
    for name, build in CHARTS.items():
        chart = build(figures)
        if figures.invented:
            chart = mark_invented(chart)
        charts[name] = render_png(chart)
        (out / chart_file(name, figures.invented)).write_bytes(charts[name])
        csv_name = chart_file(name, figures.invented).removesuffix(".png") + ".csv"
        CHART_DATA[name](figures).write_csv(out / csv_name)
    snapshot = snapshot or snapshot_dir.name
    (out / REPORT_HTML).write_text(render_html(figures, charts, snapshot), encoding="utf-8")
    (out / SUMMARY_MD).write_text(render_markdown(figures, snapshot), encoding="utf-8")
    (out / "nowcast_backtest.json").write_text(
        json.dumps(backtest_scores(figures.nowcast_scores), indent=2)
    )
    return out


INVENTED_TITLE = "INVENTED SAMPLE DATA (toll run --demo): not real figures"
SAMPLE_MARKER = "GENERATED-SAMPLE-DATA.txt"


def invented(metadata: dict) -> bool:
    """Whether the snapshot was built from `toll run --demo`'s generated sources (the sample
    folder holds its marker file beside them)."""
    folders = {
        folder
        for files in (metadata.get("sources") or {}).values()
        for item in files
        if (url := item.get("url") or "").startswith("file://")
        for folder in list(Path(url.removeprefix("file://")).parents)[:4]
    }
    # each folder looked at once: 5,203 files at 100x share a few folders (0.15 s a call)
    return any((folder / SAMPLE_MARKER).exists() for folder in folders)


def mark_invented(chart: alt.Chart) -> alt.Chart:
    """A chart of generated data: says so in its title and credits no real source."""
    title = chart.title  # keep the subtitle lines (what is drawn, dates)
    return chart.properties(
        title=alt.TitleParams(
            f"{INVENTED_TITLE}. {title.text}",
            subtitle=[_invented_credit(line) for line in title.subtitle],
            anchor="start",
            fontSize=15,
            color="#b2182b",
        )
    )


def _invented_credit(line: str) -> str:
    # a real source's name over invented numbers would credit it with them
    if not line.startswith("Source: "):
        return line
    return "Not real data: invented by toll in the shape of " + line.removeprefix("Source: ")


def chart_file(name: str, invented: bool) -> str:
    return f"INVENTED-{name}" if invented else name


def _settings_from_defaults() -> dict:
    from flows.config import Settings

    return Settings().result_affecting()
