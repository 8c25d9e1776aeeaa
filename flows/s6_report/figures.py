"""The numbers a report shows, read from the published tables and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

# Months whose captured area is this small make deaths per km² explode: left out of the chart.
MIN_MONTHLY_KM2 = 10.0


@dataclass(frozen=True)
class Figures:
    as_of: date
    weekly: pl.DataFrame
    cumulative: pl.DataFrame
    regions: pl.DataFrame
    monthly_km2: pl.DataFrame
    yearly: pl.DataFrame
    estimates: pl.DataFrame
    backtest: pl.DataFrame
    settings: dict
    # share of the names added over the last year of vintages that were for deaths more than
    # 26 weeks earlier: why a nowcast learnt from lags runs low
    late_additions_share: float | None = None
    # built from generated sample sources (`toll run --demo`): every output says so
    invented: bool = False
    # fct_nowcast_scores: the back-test by lag band (None in a snapshot from before it)
    nowcast_scores: pl.DataFrame | None = None
    # fct_named_vintage_steps: names added per vintage step, batches flagged (None before it)
    vintage_steps: pl.DataFrame | None = None


def read_figures(con: duckdb.DuckDBPyConnection, settings: dict) -> Figures:
    """Everything the report draws, from a connection holding the published tables."""
    as_of = con.execute("select max(as_of) from fct_daily_losses").fetchall()[0][0]
    weekly = con.sql(
        """
        select week_start, named_deaths, rolling_4w_avg, provisional, period_state,
            nowcast_deaths, nowcast_deaths_low, nowcast_deaths_high
        from fct_weekly_losses
        where week_start <= $as_of
        order by week_start
        """,
        params={"as_of": as_of},
    ).pl()
    # both series to the named cut-off: claims run months further, and a line past the other's
    # end would compare different days; how far they are published is kept beside them
    cumulative = con.sql(
        """
        select "date",
            sum(named_deaths) over (order by "date") as named_cumulative,
            claimed_personnel_cumulative,
            (select max("date") from fct_daily_losses
                where claimed_personnel_cumulative is not null) as claims_published_through,
        from fct_daily_losses
        where "date" <= $as_of
        order by "date"
        """,
        params={"as_of": as_of},
    ).pl()
    regions = con.sql(
        """
        select r.region_code, d.name_en, sum(r.named_deaths)::bigint as named_deaths,
            any_value(r.men_16_61) as men_16_61,
            sum(r.named_deaths) * 100000.0 / any_value(r.men_16_61) as rate_per_100k,
            min(r."year") as first_year, max(r."year") as last_year,
        from fct_regional_losses as r
        left join dim_region as d using (region_code)
        where r.men_16_61 is not null
        group by all
        order by rate_per_100k desc, region_code
        """
    ).pl()
    monthly_km2 = con.sql(
        f"""
        with months as (
            select date_trunc('month', "date")::date as month,
                sum(named_deaths) as named_deaths,
                arg_max(occupied_km2, "date") filter (where occupied_km2 is not null) as km2_end,
                max("date") as last_day,
                bool_or(period_state <> 'complete') as provisional_month,
            from fct_daily_losses
            where "date" <= $as_of
            group by 1
        )
        select month, named_deaths,
            km2_end - lag(km2_end) over (order by month) as km2_gained,
            case when km2_end - lag(km2_end) over (order by month) >= {MIN_MONTHLY_KM2}
                then named_deaths / (km2_end - lag(km2_end) over (order by month))
            end as deaths_per_km2,
            last_day < last_day(month) as partial_month,
            provisional_month,
            (select max("date") from fct_daily_losses
                where occupied_km2 is not null and "date" <= $as_of) as area_through,
        from months
        order by month
        """,
        params={"as_of": as_of},
    ).pl()
    yearly = con.sql("select * from fct_yearly_summary").pl()
    estimates = con.sql(
        "select * from fct_published_estimates order by estimate_date, source_row"
    ).pl()
    backtest = con.sql("select * from fct_nowcast_backtest order by cutoff, week_start").pl()
    if "nowcast_error" not in backtest.columns:
        # a snapshot from before the observable target (issue 16): nothing comparable to show
        backtest = backtest.clear()
    published = {name for (name,) in con.execute("show tables").fetchall()}
    scores = (
        con.sql("select * from fct_nowcast_scores order by lag_from, lag_to desc").pl()
        if "fct_nowcast_scores" in published
        else None
    )
    steps = (
        con.sql("select * from fct_named_vintage_steps order by as_of").pl()
        if "fct_named_vintage_steps" in published
        else None
    )
    late_additions_share = con.execute(
        """
        with added as (
            select week_start, as_of,
                named_deaths - coalesce(
                    lag(named_deaths) over (partition by week_start order by as_of), 0
                ) as added,
            from fct_named_vintages
        )
        select (sum(added) filter (where as_of - week_start > 26 * 7) / sum(added))::double
        from added
        where as_of > (select min(as_of) from fct_named_vintages)
            and as_of > (select max(as_of) from fct_named_vintages) - 365
        """
    ).fetchall()[0][0]
    return Figures(
        as_of,
        _plain(weekly),
        _plain(cumulative),
        _plain(regions),
        _plain(monthly_km2),
        yearly,
        estimates,
        backtest,
        settings,
        late_additions_share,
        nowcast_scores=scores,
        vintage_steps=steps,
    )


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    # DuckDB sums come back as Decimal/Int128, which chart specs cannot serialise
    return frame.with_columns(pl.col(pl.Decimal, pl.Int128).cast(pl.Float64))


def backtest_summary(backtest: pl.DataFrame) -> pl.DataFrame:
    """Per past cut-off: its nowcast total against the total at the target vintage, and the
    published counts as they stood."""
    return (
        backtest.group_by("cutoff")
        .agg(
            pl.len().alias("weeks"),
            pl.col("target_vintage").first(),
            pl.col("published_at_cutoff").sum().alias("published"),
            pl.col("nowcast_deaths").sum().alias("nowcast"),
            pl.col("named_at_target").sum().alias("at_target"),
            pl.col("within_band").mean().alias("band_coverage"),
        )
        .with_columns(
            (pl.col("nowcast") / pl.col("at_target") - 1).alias("nowcast_error"),
            (pl.col("published") / pl.col("at_target") - 1).alias("published_error"),
        )
        .sort("cutoff")
    )


def with_batches(summary: pl.DataFrame, steps: pl.DataFrame | None) -> pl.DataFrame:
    """Per cut-off, the names added by flagged batch steps after it, up to its target vintage."""
    if steps is None or summary.height == 0:
        return summary.with_columns(batch_names=pl.lit(None, pl.Int64))
    batches = steps.filter(pl.col("batch_flag")).select("as_of", "names_added").to_dicts()
    names = [
        sum(b["names_added"] for b in batches if cutoff < b["as_of"] <= target)
        for cutoff, target in zip(summary["cutoff"], summary["target_vintage"], strict=True)
    ]
    return summary.with_columns(batch_names=pl.Series(names, dtype=pl.Int64))


SCORE_COLUMNS = (
    "cutoffs",
    "weeks",
    "window_total_mean_abs_error",
    "window_total_bias",
    "week_mean_abs_error",
    "week_bias",
    "band_coverage",
    "share_below_band",
    "share_above_band",
    "published_window_total_mean_abs_error",
)


def backtest_scores(scores: pl.DataFrame | None) -> dict:
    """The back-test as published in fct_nowcast_scores: the scores over every published lag
    (5-25), then per lag band; {"cutoffs": 0} when there is nothing to score (e.g. the demo)."""
    if scores is None or scores.height == 0:
        return {"cutoffs": 0}
    rows = {r["lag_band"]: r for r in scores.to_dicts()}
    whole = rows.pop("5-25", None)
    if whole is None:
        return {"cutoffs": 0}
    first, last = whole["first_cutoff"], whole["last_cutoff"]
    return {
        **{name: whole[name] for name in SCORE_COLUMNS},
        "first_cutoff": str(first.date() if hasattr(first, "date") else first),
        "last_cutoff": str(last.date() if hasattr(last, "date") else last),
        "excluded_lags": whole["excluded_lags"],
        "by_lag_band": {
            band: {name: r[name] for name in SCORE_COLUMNS} for band, r in rows.items()
        },
    }
