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
    }
