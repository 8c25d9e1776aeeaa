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
    if "chain_ladder_deaths" not in backtest.columns:
        # a snapshot from before the correction stage: its nowcast was the chain ladder alone
        backtest = backtest.with_columns(chain_ladder_deaths=pl.col("nowcast_deaths"))
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
    )


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    # DuckDB sums come back as Decimal/Int128, which chart specs cannot serialise
    return frame.with_columns(pl.col(pl.Decimal, pl.Int128).cast(pl.Float64))


def backtest_summary(backtest: pl.DataFrame) -> pl.DataFrame:
    """Per past cut-off: error of the nowcast total of its recent weeks, and of no nowcast."""
    return (
        backtest.group_by("cutoff")
        .agg(
            pl.len().alias("weeks"),
            pl.col("published_at_cutoff").sum().alias("published"),
            pl.col("nowcast_deaths").sum().alias("nowcast"),
            pl.col("chain_ladder_deaths").sum().alias("first_stage"),
            pl.col("known_now").sum().alias("known_now"),
            pl.col("within_interval").mean().alias("interval_coverage"),
        )
        .with_columns(
            (pl.col("nowcast") / pl.col("known_now") - 1).alias("nowcast_error"),
            (pl.col("first_stage") / pl.col("known_now") - 1).alias("first_stage_error"),
            (pl.col("published") / pl.col("known_now") - 1).alias("unadjusted_error"),
        )
        .sort("cutoff")
    )


def backtest_scores(backtest: pl.DataFrame) -> dict[str, float]:
    """Mean absolute relative error of window totals: the nowcast, its first stage alone (chain
    ladder, uncorrected) and the published counts as they stood; share of weeks in the interval."""
    summary = backtest_summary(backtest)
    if summary.height == 0:
        # too few vintages (e.g. the demo data): nothing to score
        return {"cutoffs": 0}
    return {
        "cutoffs": summary.height,
        "nowcast_mean_abs_error": float(summary["nowcast_error"].abs().mean()),
        "first_stage_mean_abs_error": float(summary["first_stage_error"].abs().mean()),
        "unadjusted_mean_abs_error": float(summary["unadjusted_error"].abs().mean()),
        "interval_coverage": float(backtest["within_interval"].mean()),
        **_target_scores(backtest),
    }


def _target_scores(backtest: pl.DataFrame) -> dict[str, float]:
    """The same nowcasts scored against an observable target: the count in the first vintage
    26 weeks after each cut-off (window totals per cut-off; weeks whose target exists)."""
    if "named_at_target" not in backtest.columns:
        return {}
    scored = backtest.filter(pl.col("named_at_target").is_not_null())
    if scored.height == 0:
        return {}
    totals = scored.group_by("cutoff").agg(
        pl.col("nowcast_deaths").sum(), pl.col("named_at_target").sum()
    )
    errors = totals["nowcast_deaths"] / totals["named_at_target"] - 1
    return {
        "target_cutoffs": totals.height,
        "target_mean_abs_error": float(errors.abs().mean()),
        "target_bias": float(errors.mean()),
        "target_interval_coverage": float(scored["within_interval_at_target"].mean()),
    }
