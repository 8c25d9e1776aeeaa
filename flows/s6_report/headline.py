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
        scores = (
            con.execute(
                """
                select cutoffs, window_total_mean_abs_error, window_total_bias, band_coverage
                from fct_nowcast_scores where lag_band = '5-25'
                """
            ).fetchall()
            if "fct_nowcast_scores" in tables
            else []
        )
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
            dict(zip(("cutoffs", "mean_abs_error", "bias", "coverage"), scores[0], strict=True))
            if scores
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
