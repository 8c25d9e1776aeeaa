"""Leak test: the nowcast and its band at a cut-off use nothing published after the cut-off."""

from datetime import date, timedelta

import duckdb
import numpy as np
from helpers.vintage_counts import load_vintage_counts

from flows.s3_build.models import discover, run_models

FIRST_WEEK = date(2023, 1, 2)  # a Monday
WEEKS = 130
NOWCAST = ("int_nowcast_cutoffs", "int_nowcast_growth", "int_nowcast_projected")
NOWCAST += ("int_nowcast_weekly",)


def _rows(vintage_days: list[int], scale_after: int | None = None) -> list[tuple]:
    """Mediazona counts that keep growing per vintage; after `scale_after`, vintages are altered."""
    rng = np.random.default_rng(11)
    eventual = rng.integers(300, 1200, size=WEEKS)
    rows = []
    for day in vintage_days:
        vintage = FIRST_WEEK + timedelta(days=day)
        # a later vintage that says something quite different (a big upload of old names)
        boost = 1.7 if scale_after is not None and day > scale_after else 1.0
        for week in range(WEEKS):
            start = FIRST_WEEK + timedelta(weeks=week)
            age = (vintage - start).days
            if age < 0:
                continue
            named = int(boost * eventual[week] * (1 - np.exp(-age / (120 + 9 * (week % 4)))))
            rows.append(("mediazona", vintage, start, named))
    return rows


def _nowcast(rows: list[tuple], cutoff: date) -> list[tuple]:
    con = duckdb.connect()
    load_vintage_counts(con, rows)
    models = discover()
    run_models(con, {name: models[name] for name in NOWCAST})
    return con.sql(
        "select week_start, lag_weeks, published, nowcast_deaths, nowcast_deaths_low, "
        "nowcast_deaths_high from int_nowcast_weekly where cutoff = ? order by week_start",
        params=[cutoff],
    ).fetchall()


def test_vintages_after_a_cutoff_change_nothing_at_that_cutoff():
    days = list(range(0, 900, 9))
    cut_day = days[80]  # late enough that the band has past outcomes to learn from
    cutoff = FIRST_WEEK + timedelta(days=cut_day)
    full = _nowcast(_rows(days), cutoff)
    removed = _nowcast(_rows([d for d in days if d <= cut_day]), cutoff)
    altered = _nowcast(_rows(days, scale_after=cut_day), cutoff)
    # the cut-off has a nowcast with a band to leak into
    assert len(full) >= 5 and all(low < high for *_, low, high in full)
    assert removed == full
    assert altered == full
    # and the altered vintages do change a later cut-off (the test could fail)
    later = FIRST_WEEK + timedelta(days=days[-1])
    assert _nowcast(_rows(days, scale_after=cut_day), later) != _nowcast(_rows(days), later)
