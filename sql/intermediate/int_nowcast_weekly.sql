-- grain: one row per cut-off (int_nowcast_growth) x ISO week of death at lags 5-25
-- key: cutoff, week_start
-- The nowcast of a week: the count the list will hold for it in the first Mediazona vintage at
-- least 182 days after the cut-off, with an 80% band. Both come from the method's own past
-- errors, log(count at target / projection), made at earlier cut-offs whose target vintage was
-- already known at this cut-off (so nothing published after the cut-off is used), pooled over
-- lags within 6 weeks and over the two years of targets before the cut-off: the band is their
-- 10th-90th percentiles, so its coverage is learnt rather than assumed.
-- Bias correction: the projection runs low (names for old deaths keep speeding up; back-test
-- bias -12.7% with no correction). Scaling it by the whole median past error over-corrects
-- (bias +7.3%, window-total mean absolute error 20.5%): the errors of single cut-offs are noisy
-- and persist little over the 26 weeks before their outcome is known. Half of it (in logs) gave
-- 15.2% / -3.6% (a quarter: 14.3% / -8.3%; three quarters: 17.5% / +1.6%; real data to vintage
-- 2026-01-30, lags 5-25, 21 cut-offs, 441 weeks; coverage 83.7% whatever the correction).
-- Chosen on the first 9 cut-offs alone (to 2025-02-18), half is best too (MAE 9.0%; none 12.6%,
-- whole 12.6%); on the 12 later ones it gives 19.9% / -1.9% (none 18.0% / -12.8%): the later
-- cut-offs met the big uploads of 2025-10/11, which no correction learnt before them foresees.
-- Lags 0-4 are left out: so few of their names are out that a band says nothing; weeks older
-- than 25 weeks are left to the published count. Never below the names already published, never
-- outside its band.
with projected as (
    select * from int_nowcast_projected
),

errors as (
    select
        target_vintage,
        lag_weeks,
        ln(named_at_target / projected_deaths) as log_error,
    from projected
    where named_at_target > 0
),

cutoffs as (
    select distinct cutoff, from projected
),

stream as (
    -- each error once per published lag it is pooled into, and a marker row per cut-off x lag:
    -- a window over the target dates gives every marker the errors known in the two years up to
    -- it (5,000 daily vintages: 4.3 s and 0.5 GiB, where joining every cut-off to every earlier
    -- error took 9.9 s and 2.1 GiB; the same quantiles, tests/s3_build/test_nowcast_scaling.py)
    select
        errors.target_vintage - date '1970-01-01' as day_number,
        lag.lag_weeks,
        errors.log_error,
        null::date as cutoff,
    from errors
    cross join range(errors.lag_weeks - 6, errors.lag_weeks + 7) as lag(lag_weeks)
    where lag.lag_weeks between 5 and 25
    union all
    select cutoffs.cutoff - date '1970-01-01', lag.lag_weeks, null, cutoffs.cutoff,
    from cutoffs
    cross join range(5, 26) as lag(lag_weeks)
),

windowed as (
    select
        cutoff,
        lag_weeks,
        quantile_cont(log_error, [0.1, 0.5, 0.9]) over w as quantiles,
        count(log_error) over w as errors_seen,
    from stream
    -- only the markers' quantiles are kept: an error row's frame is empty (from 0 to 1 day
    -- before it), which cuts the window's work (5,000 daily vintages, 347,078 rows: 1.6 s when
    -- every row took the two years, 0.8 s with its own day, 0.45 s empty)
    window w as (
        partition by lag_weeks order by day_number
        range between case when cutoff is null then 0 else 104 * 7 - 1 end preceding
            and case when cutoff is null then 1 else 0 end preceding
    )
),

pooled as (
    select
        cutoff,
        lag_weeks,
        quantiles[2] as median_log_error,
        quantiles[1] as p10_log_error,
        quantiles[3] as p90_log_error,
        errors_seen,
    from windowed
    where cutoff is not null
        -- fewer than 20 past errors say too little about a quantile
        and errors_seen >= 20
),

final as (
    select
        projected.cutoff,
        projected.week_start,
        projected.lag_weeks,
        projected.published,
        projected.projected_deaths,
        exp(0.5 * pooled.median_log_error) as correction_factor,
        -- inside its band (half the median can fall below the 10th percentile when nearly
        -- all past errors have one sign)
        greatest(
            projected.published,
            projected.projected_deaths * least(
                greatest(exp(0.5 * pooled.median_log_error), exp(pooled.p10_log_error)),
                exp(pooled.p90_log_error)
            )
        ) as nowcast_deaths,
        greatest(projected.published, projected.projected_deaths * exp(pooled.p10_log_error))
            as nowcast_deaths_low,
        greatest(projected.published, projected.projected_deaths * exp(pooled.p90_log_error))
            as nowcast_deaths_high,
        pooled.errors_seen,
    from projected
    inner join pooled using (cutoff, lag_weeks)
)

select * from final
