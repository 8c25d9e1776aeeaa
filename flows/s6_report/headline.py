"""Headline figures read back from a published snapshot."""

from __future__ import annotations

from pathlib import Path

import duckdb


def headline(snapshot: Path) -> dict:
    """Named deaths per year and total (with vintage), claims per year, latest complete week."""
    con = duckdb.connect(str(snapshot / "toll.duckdb"), read_only=True)
    try:
        years = con.execute(
            """
            select year("date") as year, sum(named_deaths)::bigint, sum(claimed_personnel)::bigint
            from fct_daily_losses group by 1 order by 1
            """
        ).fetchall()
        as_of = con.execute("select max(as_of) from fct_daily_losses").fetchall()[0][0]
        week = con.execute(
            """
            select week_start, named_deaths from fct_weekly_losses
            where not provisional and days_with_named_data = 7
            order by week_start desc limit 1
            """
        ).fetchall()
    finally:
        con.close()
    return {
        "as_of": as_of,
        "named_by_year": {y: n for y, n, _ in years if n is not None},
        "named_total": sum(n or 0 for _, n, _ in years),
        "claimed_by_year": {y: c for y, _, c in years if c is not None},
        "latest_complete_week": week[0] if week else None,
    }
