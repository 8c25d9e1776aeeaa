"""The report on ../shared/data: it builds, its figures are the published tables', and the
nowcast meets its back-tested bounds."""

from __future__ import annotations

import base64
import csv
import json
import re
import struct
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)

from flows.config import load_settings
from flows.nightly import nightly
from flows.s6_report import REPORT_DIR, REPORT_HTML, SUMMARY_MD
from flows.s6_report.charts import CHARTS
from flows.s6_report.figures import backtest_scores
from flows.warehouse.snapshots import current_snapshot

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

# Issue 16's bounds for the nowcast back-test on the real data (lags 5-25, scored against the
# count in the first vintage at least 182 days after each cut-off): window-total mean absolute
# error at most 16%, absolute bias at most 10%, coverage of the 80% band 72-88%. Measured:
# 15.2%, -3.6%, 83.7% over 21 cut-offs (published counts alone: 60.2%).
MAX_NOWCAST_MEAN_ABS_ERROR = 0.16
MAX_NOWCAST_ABS_BIAS = 0.10
BAND_COVERAGE = (0.72, 0.88)


@pytest.fixture(scope="module")
def published(real_data, tmp_path_factory):
    """One nightly run on the real data; its state gives the flow run the artifacts belong to."""
    warehouse = tmp_path_factory.mktemp("warehouse")
    settings = load_settings(source_dir=real_data, warehouse=warehouse)
    state = nightly(settings=settings, return_state=True)
    assert state.is_completed(), state
    snapshot = current_snapshot(warehouse)
    return snapshot, state.state_details.flow_run_id


def _table(snapshot, name: str) -> pl.DataFrame:
    return pl.read_parquet(snapshot / f"{name}.parquet")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _n(value) -> str:
    # the report shows a dash where there is no figure (no map before 2023-12-24: no km² gained)
    return "–" if value is None else f"{value:,.0f}"


def test_report_and_every_chart_are_written(published):
    snapshot, _ = published
    report = snapshot / REPORT_DIR
    html = (report / REPORT_HTML).read_text(encoding="utf-8")
    for name in CHARTS:
        png = (report / name).read_bytes()
        width, height = _png_size(png)
        # a chart with axes, marks and titles: far more than an empty canvas compresses to
        assert width >= 900 and height >= 400, (name, width, height)
        assert len(png) > 30_000, (name, len(png))
        # the HTML is self-contained: the same image inlined
        assert base64.b64encode(png).decode() in html, name
        # the chart's rows beside it, for a graphics desk to redraw it
        rows = pl.read_csv(report / name.replace(".png", ".csv"))
        assert rows.height > 10, name
    # and nothing else: every image is inlined, none is fetched
    assert html.count("<img") == html.count('src="data:image/png;base64,') == len(CHARTS)


def test_yearly_figures_in_report_equal_published_table(published, real_data):
    snapshot, _ = published
    yearly = _table(snapshot, "fct_yearly_summary")
    summary = (snapshot / REPORT_DIR / SUMMARY_MD).read_text(encoding="utf-8")
    html = (snapshot / REPORT_DIR / REPORT_HTML).read_text(encoding="utf-8")
    assert set(yearly["period_type"]) == {"calendar", "war_year", "whole_war"}
    for row in yearly.to_dicts():
        shown = [
            _n(row["named_deaths"]),
            f"{_n(row['estimate_low'])}–{_n(row['estimate_high'])}",
            f"{row['deadliest_day']} ({_n(row['deadliest_day_deaths'])})",
            f"{row['deadliest_iso_week']} ({_n(row['deadliest_week_deaths'])})",
            _n(row["km2_gained"]),
        ]
        md_line = next(line for line in summary.splitlines() if f" {row['period']} |" in line)
        state = row["period_state"]
        label = f" {row['period']}</td>" if state == "complete" else f" {row['period']} <b>("
        html_row = next(r for r in html.split("<tr>") if label in r)
        assert md_line.endswith(f" {state} |"), md_line
        if state != "complete":
            assert f"({state})" in html_row and "a floor" in html_row, html_row
            assert "(floor: count still growing)" in md_line, md_line
        for text in shown:
            assert text in md_line, (row["period"], text, md_line)
            assert text in html_row, (row["period"], text)

    # and the table holds what the raw file says: deaths dated 2024 in the newest vintage
    named_2024 = 0
    with open(real_data / "mediazona/vintages/2026-01-30_cumsum.csv") as handle:
        for r in csv.DictReader(handle):
            if r["date"].startswith("2024-"):
                named_2024 += int(r["change"])
    y2024 = yearly.filter(
        (pl.col("period_type") == "calendar") & (pl.col("period") == "2024")
    ).to_dicts()[0]
    assert y2024["named_deaths"] == named_2024 == 57_274
    assert y2024["estimate_low"] == round(named_2024 / 0.65)
    assert y2024["estimate_high"] == round(named_2024 / 0.45)
    assert f"| Calendar year 2024 | {_n(named_2024)} |" in summary
    whole = yearly.filter(pl.col("period_type") == "whole_war").to_dicts()[0]
    assert whole["named_deaths"] == 137_930
    assert f"up to {_n(whole['total_with_addon_high'])}" in summary


def test_backtest_figures_in_report_equal_published_table(published):
    snapshot, _ = published
    scores = backtest_scores(_table(snapshot, "fct_nowcast_scores"))
    written = json.loads((snapshot / REPORT_DIR / "nowcast_backtest.json").read_text())
    assert written == json.loads(json.dumps(scores))
    assert set(written["by_lag_band"]) == {"5-9", "10-14", "15-19", "20-25"}
    summary = (snapshot / REPORT_DIR / SUMMARY_MD).read_text(encoding="utf-8")
    assert f"over {scores['cutoffs']} cut-offs" in summary
    assert f"mean absolute error {scores['window_total_mean_abs_error']:.1%}" in summary
    assert f"bias {scores['window_total_bias']:+.1%}" in summary
    assert f"band held {scores['band_coverage']:.1%} of weeks" in summary
    # the reason given for the bias: names added over the last year, by age of the death
    vintages = _table(snapshot, "fct_named_vintages").sort("week_start", "as_of")
    added = vintages.with_columns(
        (
            pl.col("named_deaths") - pl.col("named_deaths").shift(1).over("week_start").fill_null(0)
        ).alias("added"),
        ((pl.col("as_of") - pl.col("week_start")).dt.total_days() > 26 * 7).alias("old"),
    ).filter(
        (pl.col("as_of") > vintages["as_of"].min())
        & (pl.col("as_of") > vintages["as_of"].max() - timedelta(days=365))
    )
    share = added.filter("old")["added"].sum() / added["added"].sum()
    html = (snapshot / REPORT_DIR / REPORT_HTML).read_text(encoding="utf-8")
    assert 0.5 < share < 1
    assert f"over the last year, {share:.0%} of the names added" in html


def test_nowcast_backtest_within_stated_bound(published):
    snapshot, _ = published
    backtest = _table(snapshot, "fct_nowcast_backtest")
    scores = backtest_scores(_table(snapshot, "fct_nowcast_scores"))
    assert scores["cutoffs"] >= 20
    assert backtest["lag_weeks"].min() == 5 and backtest["lag_weeks"].max() == 25
    # the published target exactly: the first vintage at least 182 days after each cut-off
    gaps = (backtest["target_vintage"] - backtest["cutoff"]).dt.total_days()
    assert gaps.min() >= 182 and gaps.max() < 182 + 45
    assert scores["window_total_mean_abs_error"] <= MAX_NOWCAST_MEAN_ABS_ERROR, scores
    assert abs(scores["window_total_bias"]) <= MAX_NOWCAST_ABS_BIAS, scores
    assert BAND_COVERAGE[0] <= scores["band_coverage"] <= BAND_COVERAGE[1], scores
    assert scores["window_total_mean_abs_error"] < scores["published_window_total_mean_abs_error"]
    # the table's scores are the back-test's rows summed up
    coverage = backtest["within_band"].mean()
    assert coverage == pytest.approx(scores["band_coverage"])


def test_backtest_is_out_of_sample(published, real_data, tmp_path):
    """A past cut-off's back-test row is exactly what toll would have published that day."""
    snapshot, _ = published
    cutoff = date(2025, 3, 1)  # a Mediazona vintage
    then = load_settings(source_dir=real_data, warehouse=tmp_path / "then", as_of=cutoff)
    nightly(settings=then)
    published_then = (
        _table(current_snapshot(then.warehouse), "fct_weekly_losses")
        .filter(pl.col("nowcast_deaths").is_not_null())
        .select("week_start", "nowcast_deaths", "nowcast_deaths_low", "nowcast_deaths_high")
        .sort("week_start")
    )
    replayed = (
        _table(snapshot, "fct_nowcast_backtest")
        .filter(pl.col("cutoff") == cutoff)
        .select(published_then.columns)
        .sort("week_start")
    )
    assert published_then.height > 10
    assert published_then["week_start"].to_list() == replayed["week_start"].to_list()
    for column in published_then.columns[1:]:
        assert published_then[column].to_list() == pytest.approx(replayed[column].to_list())


def test_weekly_nowcast_is_published_for_recent_weeks(published):
    snapshot, _ = published
    weekly = _table(snapshot, "fct_weekly_losses").filter(pl.col("nowcast_deaths").is_not_null())
    assert weekly.height > 0
    assert (weekly["nowcast_deaths"] >= weekly["named_deaths"]).all()
    assert (weekly["nowcast_deaths_low"] <= weekly["nowcast_deaths"]).all()
    assert (weekly["nowcast_deaths"] <= weekly["nowcast_deaths_high"]).all()
    assert weekly["week_start"].max() <= date(2026, 1, 30)


def test_report_task_attaches_summary_as_markdown_artifact(published):
    snapshot, flow_run_id = published
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["yearly-summary"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
        )
    assert len(artifacts) == 1
    artifact = artifacts[0]
    assert artifact.type == "markdown"
    assert artifact.task_run_id is not None  # made by the report task, not the flow
    summary = (snapshot / REPORT_DIR / SUMMARY_MD).read_text(encoding="utf-8")
    assert artifact.data == summary
    assert re.search(r"\| Whole war since 2022-02-24 \| 137,930 \|", artifact.data)


def test_no_provisional_period_looks_final(published):
    """Names arrive for about two years: only periods older than provisional_weeks are complete;
    the 4-week average stops where names are not in yet; the CLI headline says each year's state."""
    snapshot, _ = published
    weeks_back = load_settings().provisional_weeks
    yearly = _table(snapshot, "fct_yearly_summary").filter(pl.col("period_type") == "calendar")
    as_of = yearly["data_through"].max()
    states = dict(zip(yearly["period"], yearly["period_state"], strict=True))
    assert states["2022"] == "complete"
    assert states["2025"] == "provisional", "a year still growing must not look final"
    assert states[str(as_of.year)] == "partial" or as_of.month == 12
    assert not yearly.filter(pl.col("period_state") != "complete")["is_complete"].any()
    weekly = _table(snapshot, "fct_weekly_losses")
    limit = as_of - timedelta(weeks=weeks_back)
    complete = weekly.filter(pl.col("period_state") == "complete")
    assert complete.height and (complete["week_start"] + timedelta(days=6)).max() <= limit
    # no running average into weeks whose count still grows: it would fall towards zero
    unfinished = weekly.filter(pl.col("provisional") | (pl.col("period_state") != "complete"))
    assert unfinished.height and unfinished["rolling_4w_avg"].null_count() == unfinished.height
    assert complete["rolling_4w_avg"].null_count() == 0
    daily = _table(snapshot, "fct_daily_losses")
    assert set(daily["period_state"].unique()) == {"complete", "provisional", "partial"}


def test_every_chart_credits_each_series_with_its_cut_off(published):
    """Each chart's last subtitle line names its sources with dates; area comes from the
    DeepState maps; named deaths and claims are drawn over the same days."""
    import duckdb

    from flows.s6_report.figures import read_figures

    snapshot, _ = published
    con = duckdb.connect(str(snapshot / "toll.duckdb"), read_only=True)
    try:
        fig = read_figures(con, load_settings().result_affecting())
    finally:
        con.close()
    cut_off = f"{fig.as_of:%d %b %Y}"
    credits = {name: build(fig).title.subtitle[-1] for name, build in CHARTS.items()}
    for name, credit in credits.items():
        assert credit.startswith("Source: "), (name, credit)
        assert re.search(r"\d{4}", credit), (name, credit)
    assert cut_off in credits["weekly_named_deaths.png"]
    km2 = credits["deaths_per_km2_by_month.png"]
    assert "DeepState maps" in km2 and "Economist" not in km2, km2
    # the area's date is the chart's last map day, not one past the named cut-off
    area_to = re.search(r"deepstate-map-data; to (\d\d \w{3} \d{4})\)", km2)
    assert area_to and datetime.strptime(area_to[1], "%d %b %Y").date() <= fig.as_of, km2
    claims = credits["cumulative_named_vs_claims.png"]
    assert f"to {cut_off}" in claims and "General Staff" in claims, claims
    # claims are published months past the named cut-off: drawn only to it, and said so
    assert fig.cumulative["date"].max() == fig.as_of
    assert fig.cumulative["claims_published_through"].max() > fig.as_of
    assert "shown to the named cut-off" in claims, claims


def test_run_summary_shows_the_latest_nowcast_week_with_its_band(published):
    """The run summary (and the CLI headline, same line) puts the newest week with a nowcast, its
    band and the count published so far side by side, with what is predicted and the scores."""
    from flows.ops.run_artifacts import summary_markdown

    snapshot, _ = published
    weekly = _table(snapshot, "fct_weekly_losses").filter(pl.col("nowcast_deaths").is_not_null())
    week = weekly.sort("week_start").tail(1).to_dicts()[0]
    # the newest week with a nowcast is 5 weeks from the end of the week to the vintage
    assert (date(2026, 1, 30) - (week["week_start"] + timedelta(days=6))).days // 7 == 5
    text = summary_markdown("nightly test", [], [], snapshot)
    line = next(x for x in text.splitlines() if x.startswith("- latest week with a nowcast"))
    assert f"week of {week['week_start']}: {week['named_deaths']:,} named so far" in line
    assert f"nowcast {week['nowcast_deaths']:,.0f}" in line
    assert (
        f"(80% band {week['nowcast_deaths_low']:,.0f} to {week['nowcast_deaths_high']:,.0f})"
        in line
    )
    assert "first vintage at least 26 weeks after 2026-01-30" in line
    scores = backtest_scores(_table(snapshot, "fct_nowcast_scores"))
    assert f"band held {scores['band_coverage']:.0%} of weeks" in line
    # and the back-test by lag band, with what it leaves out
    assert "## Nowcast back-test" in text
    for band, r in [("5-25", scores), *scores["by_lag_band"].items()]:
        row = (
            f"| {band} | {r['cutoffs']} | {r['weeks']} | {r['window_total_mean_abs_error']:.1%} "
            f"| {r['window_total_bias']:+.1%} | {r['week_mean_abs_error']:.1%} "
            f"| {r['week_bias']:+.1%} | {r['band_coverage']:.1%} |"
        )
        assert row in text, row
    assert "Not scored: lags 0-4 (no nowcast: too few names out)" in text


def test_batches_of_old_names_are_published_and_shown(published):
    """fct_named_vintage_steps on the real data: the flagged uploads, in the report beside the
    back-test they explain."""
    snapshot, _ = published
    steps = _table(snapshot, "fct_named_vintage_steps")
    assert steps.height == 49  # 50 vintages
    flagged = steps.filter(pl.col("batch_flag"))
    assert flagged["as_of"].to_list() == [
        date(2024, 10, 26),
        date(2025, 2, 24),
        date(2025, 3, 29),
        date(2025, 10, 24),
        date(2025, 11, 22),
    ]
    biggest = flagged.filter(pl.col("as_of") == date(2025, 11, 22)).to_dicts()[0]
    assert biggest["names_added"] == 8_792 and biggest["old_share"] > 0.9
    html = (snapshot / REPORT_DIR / REPORT_HTML).read_text(encoding="utf-8")
    assert "Of 49 steps between consecutive Mediazona vintages, 5 added names" in html
    assert "<td class=n>8,792</td><td class=n>1,465</td>" in html
    # the back-test's worst cut-offs are those whose 26 weeks saw the big uploads
    assert re.search(r"followed by at least 10,000 names .* were off by -\d+% on average", html)
    summary = (snapshot / REPORT_DIR / SUMMARY_MD).read_text(encoding="utf-8")
    assert "Batches of old names: 5 of 49 Mediazona vintage steps" in summary
