"""The nowcast's growth rates, found per cut-off without joining every cut-off to every vintage."""

import math
from datetime import date, timedelta

import duckdb
import numpy as np
import pytest
from helpers.vintage_counts import load_vintage_counts

from flows.s3_build.models import discover, run_models

FIRST_WEEK = date(2024, 1, 1)  # a Monday


def _counts(con: duckdb.DuckDBPyConnection, vintage_days: list[int]) -> None:
    """Weekly named counts that keep growing with each vintage, plus two year-end vintages."""
    rng = np.random.default_rng(7)
    eventual = rng.integers(200, 900, size=60)
    rows = []
    for day in vintage_days:
        vintage = FIRST_WEEK + timedelta(days=day)
        for week in range(60):
            start = FIRST_WEEK + timedelta(weeks=week)
            age = (vintage - start).days
            if age < 0:
                continue
            named = int(eventual[week] * (1 - np.exp(-age / (90 + 7 * (week % 5)))))
            rows.append(("mediazona", vintage, start, named))
    for year_end in (date(2024, 12, 31), date(2025, 12, 31)):
        for week in range(60):
            start = FIRST_WEEK + timedelta(weeks=week)
            if start <= year_end:
                age = (year_end - start).days
                rows.append(("weekly_series", year_end, start, int(eventual[week] * age / 500)))
    load_vintage_counts(con, rows)


# The method written per cut-off: every cut-off joined to every vintage known then (quadratic);
# Mediazona only, a full 13-week window, log growth per day of a step spread over its lags.
BY_CUTOFF = """
with counts as (select * from int_named_vintage_counts where series = 'mediazona'),
known as (
    select c.cutoff, counts.* from int_nowcast_cutoffs c join counts on counts.vintage <= c.cutoff
    where c.cutoff >= (select min(vintage) from counts) + 91
),
steps as (
    select cutoff, vintage, next_vintage,
        ((vintage - (week_start + 6)) // 7)::integer as lag_from,
        greatest(((next_vintage - (week_start + 6)) // 7)::integer,
            ((vintage - (week_start + 6)) // 7)::integer + 1) as lag_to,
        named as named_from, next_named as named_to,
    from (
        select known.*, lead(vintage) over w as next_vintage, lead(named) over w as next_named
        from known window w as (partition by cutoff, week_start order by vintage)
    )
    where next_vintage is not null and next_vintage >= cutoff - 13 * 7
        and week_start + 6 <= vintage and named >= 30 and next_named > 0
)
select cutoff, lag.lag_weeks,
    sum((named_from * ln(named_to / named_from) / (lag_to - lag_from))::decimal(38, 12))::double
        / sum((named_from * (next_vintage - vintage) / (lag_to - lag_from))::decimal(38, 12))
            ::double
        as rate,
from steps, range(lag_from, lag_to) as lag(lag_weeks)
group by all
"""


def _build(vintage_days: list[int]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _counts(con, vintage_days)
    models = discover()
    run_models(con, {n: models[n] for n in ("int_nowcast_cutoffs", "int_nowcast_growth")})
    return con


def test_growth_equals_the_per_cutoff_method_exactly():
    # sparse vintages, then daily ones (most of them no cut-off): steps of 1 to 16 days
    days = list(range(0, 200, 9)) + list(range(200, 330)) + [335, 351]
    con = _build(days)
    new = con.sql("select cutoff, lag_weeks, log_growth_per_day from int_nowcast_growth").fetchall()
    old = con.sql(BY_CUTOFF).fetchall()
    assert len(new) > 500 and len({c for c, _, _ in new}) > 30
    assert sorted(new) == sorted(old)
    # the year-end vintages of the weekly series (another list) take no part
    con.execute("delete from int_named_vintage_counts where series != 'mediazona'")
    con.execute("create or replace table before as select * from int_nowcast_growth")
    models = discover()
    run_models(con, {n: models[n] for n in ("int_nowcast_cutoffs", "int_nowcast_growth")})
    assert con.sql("select * from int_nowcast_growth except select * from before").fetchall() == []
    assert con.sql("select count(*) from int_nowcast_growth").fetchall() == [(len(new),)]


def test_cutoffs_at_most_one_per_four_days_and_sparse_vintages_all_kept():
    dense = _build(list(range(0, 200)))
    cutoffs = [
        c for (c,) in dense.sql("select cutoff from int_nowcast_cutoffs order by 1").fetchall()
    ]
    assert cutoffs[-1] == FIRST_WEEK + timedelta(days=199)  # the newest vintage is always one
    gaps = [(b - a).days for a, b in zip(cutoffs, cutoffs[1:], strict=False)]
    # one per 4-day period counted from a fixed day: only the newest period may be cut short
    assert set(gaps[:-1]) == {4} and 1 <= gaps[-1] <= 4 and len(cutoffs) == 50
    sparse_days = [0, 4, 9, 30, 34, 60]
    sparse = _build(sparse_days)
    kept = sparse.sql("select cutoff from int_nowcast_cutoffs order by 1").fetchall()
    assert [c for (c,) in kept] == [FIRST_WEEK + timedelta(days=d) for d in sparse_days]


# The band's past errors written as a join: every cut-off x every error known then (quadratic).
POOLED_BY_JOIN = """
with errors as (
    select target_vintage, lag_weeks, ln(named_at_target / projected_deaths) as log_error,
    from int_nowcast_projected where named_at_target > 0
),
cutoffs as (select distinct cutoff from int_nowcast_projected)
select cutoffs.cutoff, lag.lag_weeks,
    quantile_cont(log_error, 0.1) as p10, quantile_cont(log_error, 0.5) as p50,
    quantile_cont(log_error, 0.9) as p90,
from cutoffs
join errors on errors.target_vintage <= cutoffs.cutoff
    and errors.target_vintage > cutoffs.cutoff - 728
cross join range(errors.lag_weeks - 6, errors.lag_weeks + 7) as lag(lag_weeks)
where lag.lag_weeks between 5 and 25
group by all
having count(*) >= 20
"""


def test_band_quantiles_equal_the_join_over_every_earlier_error():
    """int_nowcast_weekly pools past errors with a window over target dates (linear); the same
    quantiles as joining every cut-off to every error known then."""
    con = duckdb.connect()
    _counts(con, list(range(0, 600, 3)))
    models = discover()
    names = ("int_nowcast_cutoffs", "int_nowcast_growth", "int_nowcast_projected")
    run_models(con, {n: models[n] for n in (*names, "int_nowcast_weekly")})
    weekly = con.sql(
        "select cutoff, lag_weeks, published, projected_deaths, nowcast_deaths_low, "
        "nowcast_deaths_high from int_nowcast_weekly"
    ).fetchall()
    joined = {(c, lag): (p10, p90) for c, lag, p10, _, p90 in con.sql(POOLED_BY_JOIN).fetchall()}
    assert len(weekly) > 200 and len({c for c, *_ in weekly}) > 20
    for cutoff, lag, published, projected, low, high in weekly:
        p10, p90 = joined[(cutoff, lag)]
        assert low == pytest.approx(max(published, projected * math.exp(p10)), rel=1e-12)
        assert high == pytest.approx(max(published, projected * math.exp(p90)), rel=1e-12)
    # and no cut-off x lag with a week to nowcast and 20 past errors is left without a band
    lags = con.sql("select distinct cutoff, lag_weeks from int_nowcast_projected").fetchall()
    assert {key for key in joined if key in set(lags)} == {(c, lag) for c, lag, *_ in weekly}
