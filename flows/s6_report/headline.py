"""Headline figures read back from a published snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb


def headline(snapshot: Path) -> dict:
    """Named deaths and claims per year over the same days (to the Mediazona vintage date), each
    year's state, the latest complete week and the latest week with a nowcast."""
    from flows.s6_report import invented

    metadata = snapshot / "_snapshot.json"
    made_up = metadata.exists() and invented(json.loads(metadata.read_text()))
    con = duckdb.connect(str(snapshot / "toll.duckdb"), read_only=True)
    try:
        as_of = con.execute("select max(as_of) from fct_daily_losses").fetchall()[0][0]
        # claims only up to the vintage date: both columns then cover the same days
        years = con.execute(
            """
            select
                year("date") as year,
                sum(named_deaths)::bigint,
                sum(claimed_personnel) filter (where "date" <= as_of)::bigint,
            from fct_daily_losses group by 1 order by 1
            """
        ).fetchall()
        states = dict(
            con.execute(
                "select period::integer, period_state from fct_yearly_summary"
                " where period_type = 'calendar'"
            ).fetchall()
        )
        week = con.execute(
            """
            select week_start, named_deaths from fct_weekly_losses
            where period_state = 'complete' order by week_start desc limit 1
            """
        ).fetchall()
        nowcast = con.execute(
            """
            select week_start, named_deaths, nowcast_deaths, nowcast_deaths_low,
                nowcast_deaths_high
            from fct_weekly_losses
            where nowcast_deaths is not null order by week_start desc limit 1
            """
        ).fetchall()
        tables = {name for (name,) in con.execute("show tables").fetchall()}
        bands = (
            con.execute(
                """
                select * from fct_nowcast_scores order by lag_from, lag_to desc
                """
            )
            if "fct_nowcast_scores" in tables
            else None
        )
        names = [d[0] for d in bands.description] if bands else []
        bands = [dict(zip(names, row, strict=True)) for row in bands.fetchall()] if bands else []
    finally:
        con.close()
    return {
        # built from `toll run --demo`'s generated sources: every line shown says so
        "invented": made_up,
        "as_of": as_of,
        "named_by_year": {y: n for y, n, _ in years if n is not None},
        "named_total": sum(n or 0 for _, n, _ in years),
        "claimed_by_year": {y: c for y, _, c in years if c is not None},
        "state_by_year": states,
        "latest_complete_week": week[0] if week else None,
        "latest_nowcast_week": (
            dict(
                zip(
                    ("week_start", "named_deaths", "nowcast", "low", "high"),
                    nowcast[0],
                    strict=True,
                )
            )
            if nowcast
            else None
        ),
        "nowcast_scores": (
            {
                "cutoffs": bands[0]["cutoffs"],
                "mean_abs_error": bands[0]["window_total_mean_abs_error"],
                "bias": bands[0]["window_total_bias"],
                "coverage": bands[0]["band_coverage"],
                "excluded_lags": bands[0]["excluded_lags"],
                "by_lag_band": bands,
            }
            if bands
            else None
        ),
    }


def nowcast_line(figures: dict) -> str | None:
    """The most recent week with a nowcast: its band beside the count published so far, what
    the nowcast predicts and how the back-test scored it."""
    nowcast = figures.get("latest_nowcast_week")
    if not nowcast:
        return None
    line = (
        f"week of {nowcast['week_start']}: {nowcast['named_deaths'] or 0:,} named so far; "
        f"nowcast {nowcast['nowcast']:,.0f} (80% band {nowcast['low']:,.0f} to "
        f"{nowcast['high']:,.0f}) named in the first vintage at least 26 weeks after "
        f"{figures['as_of']}"
    )
    if scores := figures.get("nowcast_scores"):
        line += (
            f"; back-test at {scores['cutoffs']} past cut-offs (lags 5-25 weeks): totals off "
            f"{scores['mean_abs_error']:.0%} on average, bias {scores['bias']:+.0%}, band held "
            f"{scores['coverage']:.0%} of weeks"
        )
    return line


def nowcast_scores_markdown(figures: dict) -> list[str]:
    """The back-test by lag band as a Markdown table (fct_nowcast_scores), with what it leaves
    out; nothing when the snapshot has no scores."""
    scores = figures.get("nowcast_scores")
    if not scores:
        return []
    lines = [
        "Each past cut-off's nowcast against the count at its target vintage (the first at least "
        "26 weeks later); window total = the sum of the band's weeks at one cut-off.",
        "",
        "| lags (weeks) | cut-offs | weeks | total: mean abs. error | total: bias "
        "| per week: mean abs. error | per week: bias | band held | below | above "
        "| published count alone: total error |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in scores["by_lag_band"]:
        lines.append(
            f"| {r['lag_band']} | {r['cutoffs']} | {r['weeks']} "
            f"| {r['window_total_mean_abs_error']:.1%} | {r['window_total_bias']:+.1%} "
            f"| {r['week_mean_abs_error']:.1%} | {r['week_bias']:+.1%} "
            f"| {r['band_coverage']:.1%} | {r['share_below_band']:.1%} "
            f"| {r['share_above_band']:.1%} | {r['published_window_total_mean_abs_error']:.1%} |"
        )
    lines += ["", f"Not scored: {scores['excluded_lags']}."]
    return lines
