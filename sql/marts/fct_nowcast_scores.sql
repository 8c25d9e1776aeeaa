-- grain: one row per lag band of the nowcast back-test ('5-25' for all published lags, then
--     '5-9', '10-14', '15-19', '20-25')
-- key: lag_band
-- The back-test (fct_nowcast_backtest) summed up: window-total error (per cut-off, the sum of
-- the nowcasts of the band's weeks against the sum of their counts at the target vintage),
-- per-week error, band coverage and misses below and above, and the published count without a
-- nowcast on the same weeks. Lags 0-4 have no nowcast (too few names out for a band that says
-- anything) and lags over 25 are left to the published count: the scores cover neither.
with backtest as (
    select * from fct_nowcast_backtest
),

bands as (
    select '5-25' as lag_band, 5 as lag_from, 25 as lag_to
    union all select '5-9', 5, 9
    union all select '10-14', 10, 14
    union all select '15-19', 15, 19
    union all select '20-25', 20, 25
),

weeks as (
    select bands.lag_band, bands.lag_from, bands.lag_to, backtest.*,
    from bands
    inner join backtest on backtest.lag_weeks between bands.lag_from and bands.lag_to
),

totals as (
    -- summed as decimals so that the published scores are byte-identical from run to run
    select
        lag_band,
        cutoff,
        sum(nowcast_deaths::decimal(38, 6))::double / sum(named_at_target) - 1 as nowcast_error,
        sum(published_at_cutoff) / sum(named_at_target) - 1 as published_error,
    from weeks
    group by all
),

by_total as (
    select
        lag_band,
        count(*) as cutoffs,
        avg(abs(nowcast_error)::decimal(38, 12))::double as window_total_mean_abs_error,
        avg(nowcast_error::decimal(38, 12))::double as window_total_bias,
        avg(abs(published_error)::decimal(38, 12))::double
            as published_window_total_mean_abs_error,
    from totals
    group by all
),

by_week as (
    select
        lag_band,
        any_value(lag_from) as lag_from,
        any_value(lag_to) as lag_to,
        count(*) as weeks,
        avg(abs(nowcast_error)::decimal(38, 12))::double as week_mean_abs_error,
        avg(nowcast_error::decimal(38, 12))::double as week_bias,
        avg(within_band::integer) as band_coverage,
        avg(below_band::integer) as share_below_band,
        avg(above_band::integer) as share_above_band,
        min(cutoff) as first_cutoff,
        max(cutoff) as last_cutoff,
    from weeks
    group by all
),

final as (
    select
        by_week.lag_band,
        by_week.lag_from,
        by_week.lag_to,
        by_total.cutoffs,
        by_week.weeks,
        by_week.first_cutoff,
        by_week.last_cutoff,
        by_total.window_total_mean_abs_error,
        by_total.window_total_bias,
        by_week.week_mean_abs_error,
        by_week.week_bias,
        by_week.band_coverage,
        by_week.share_below_band,
        by_week.share_above_band,
        by_total.published_window_total_mean_abs_error,
        'lags 0-4 (no nowcast: too few names out) and over 25 (the published count stands)'
            as excluded_lags,
    from by_week
    inner join by_total using (lag_band)
)

select * from final order by lag_from, lag_to desc
