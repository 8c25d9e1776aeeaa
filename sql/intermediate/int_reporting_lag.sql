-- grain: one row per cut-off (int_nowcast_cutoffs) x lag in whole weeks (0-25)
-- key: cutoff, lag_weeks
-- Share of the names of a week's dead already published at each lag (weeks from the end of the
-- week of death), learnt only from vintages known at the cut-off. Chain ladder: between two
-- consecutive vintages a week's count grows by a factor; spread evenly over the lags it spans,
-- these give a growth rate per lag; the share published at lag d is exp(-(sum of the rates from
-- d to the longest lag seen)). Only steps ending in the 26 weeks before the cut-off count:
-- publication of old names keeps speeding up, and older steps understate it (on the real data
-- the back-test error of the nowcast fell from 32% to 24% with this window; 19 to 34 weeks all
-- gave 24%). The spread of single weeks' shares (against the newest vintage) around their median
-- decides which weeks are too fresh to scale up. Every cut-off is kept so that the back-test
-- (fct_nowcast_backtest) replays the published method unchanged.
-- Cost stays linear in vintages: the steps are found once (a step between consecutive vintages
-- is known at every cut-off from its second vintage on), each cut-off only sums the steps of its
-- 26-week window, and the spread only looks at lags 0-25, the ones published.
with counts as (
    select * from int_named_vintage_counts
),

cutoffs as (
    select * from int_nowcast_cutoffs
),

steps as (
    -- one week's count at two consecutive vintages of the same series
    select
        series,
        week_start,
        next_vintage,
        ((vintage - (week_start + 6)) // 7)::integer as lag_from,
        ((next_vintage - (week_start + 6)) // 7)::integer as lag_to,
        named as named_from,
        next_named as named_to,
    from (
        select
            counts.*,
            lead(vintage) over w as next_vintage,
            lead(named) over w as next_named,
        from counts
        window w as (partition by series, week_start order by vintage)
    )
    where next_vintage is not null
        and week_start + 6 <= vintage
        -- tiny counts give wild ratios
        and named >= 30
        -- a week that drops to no names is a broken vintage (the gates judge it); its log
        -- ratio would be -inf and poison every rate
        and next_named > 0
),

step_lags as (
    -- the steps' growth per lag, by the day they end
    select
        steps.next_vintage,
        lag.lag_weeks,
        -- summed as decimals: a float sum depends on the order threads add it up, and the
        -- published tables must be byte-identical from run to run
        sum((
            steps.named_from * ln(steps.named_to / steps.named_from) / (steps.lag_to - steps.lag_from)
        )::decimal(38, 12)) as growth,
        sum(steps.named_from) as named_from,
    from steps, range(steps.lag_from, steps.lag_to) as lag(lag_weeks)
    where steps.lag_to > steps.lag_from
    group by all
),

rates as (
    select
        cutoffs.cutoff,
        step_lags.lag_weeks,
        sum(step_lags.growth)::double / sum(step_lags.named_from) as log_growth_per_week,
    from cutoffs
    inner join step_lags
        on step_lags.next_vintage between cutoffs.cutoff - 26 * 7 and cutoffs.cutoff
    group by all
),

shares as (
    select
        cutoff,
        lag_weeks,
        exp(-sum(log_growth_per_week) over (
            partition by cutoff order by lag_weeks desc rows unbounded preceding
        )) as share_published,
    from rates
),

vintages as (
    select distinct series, vintage, from counts
),

reference_vintages as (
    select cutoffs.cutoff, vintages.series, max(vintages.vintage) as reference_vintage,
    from cutoffs
    inner join vintages on vintages.vintage <= cutoffs.cutoff
    group by all
),

early as (
    -- a week's counts at lags 0-25 (the ones published), at the cut-offs and year-end vintages
    select *,
    from counts
    where week_start + 6 <= vintage
        and vintage < week_start + 6 + 26 * 7
        and (series != 'mediazona' or vintage in (select cutoff from cutoffs))
),

single_weeks as (
    -- each week's share against the newest vintage known at the cut-off, for the spread
    select
        reference_vintages.cutoff,
        ((early.vintage - (early.week_start + 6)) // 7)::integer as lag_weeks,
        early.named / reference.named as share,
    from reference_vintages
    inner join counts as reference
        on reference.series = reference_vintages.series
        and reference.vintage = reference_vintages.reference_vintage
    inner join early
        on early.series = reference_vintages.series
        and early.week_start = reference.week_start
        and early.vintage < reference_vintages.reference_vintage
    where reference_vintages.reference_vintage - (reference.week_start + 6) >= 26 * 7
        and reference.named >= 30
),

spread as (
    select
        cutoff,
        lag_weeks,
        quantile_cont(share, 0.1) / nullif(median(share), 0) as p10_over_median,
        quantile_cont(share, 0.9) / nullif(median(share), 0) as p90_over_median,
        count(*) as weeks_seen,
    from single_weeks
    group by all
)

select
    shares.cutoff,
    shares.lag_weeks,
    shares.share_published,
    shares.share_published * spread.p10_over_median as share_p10,
    shares.share_published * spread.p90_over_median as share_p90,
    spread.weeks_seen,
from shares
inner join spread using (cutoff, lag_weeks)
where shares.lag_weeks < 26
