-- grain: one row per cut-off (a Mediazona vintage date) x lag in whole weeks (0-25)
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
with counts as (
    select * from int_named_vintage_counts
),

cutoffs as (
    select distinct vintage as cutoff from counts where series = 'mediazona'
),

known as (
    select cutoffs.cutoff, counts.*,
    from cutoffs
    inner join counts on counts.vintage <= cutoffs.cutoff
),

steps as (
    -- one week's count at two consecutive vintages of the same series
    select
        cutoff,
        series,
        week_start,
        ((vintage - (week_start + 6)) // 7)::integer as lag_from,
        ((next_vintage - (week_start + 6)) // 7)::integer as lag_to,
        named as named_from,
        next_named as named_to,
    from (
        select
            known.*,
            lead(vintage) over w as next_vintage,
            lead(named) over w as next_named,
        from known
        window w as (partition by cutoff, series, week_start order by vintage)
    )
    where next_vintage is not null
        and next_vintage >= cutoff - 26 * 7
        and week_start + 6 <= vintage
        -- tiny counts give wild ratios
        and named >= 30
        -- a week that drops to no names is a broken vintage (the gates judge it); its log
        -- ratio would be -inf and poison every rate
        and next_named > 0
),

rates as (
    select
        steps.cutoff,
        lag.lag_weeks,
        -- summed as decimals: a float sum depends on the order threads add it up, and the
        -- published tables must be byte-identical from run to run
        sum((
            steps.named_from * ln(steps.named_to / steps.named_from) / (steps.lag_to - steps.lag_from)
        )::decimal(38, 12))::double
            / sum(steps.named_from) as log_growth_per_week,
    from steps, range(steps.lag_from, steps.lag_to) as lag(lag_weeks)
    where steps.lag_to > steps.lag_from
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

reference_vintages as (
    select cutoff, series, max(vintage) as reference_vintage from known group by all
),

single_weeks as (
    -- each week's share against the newest vintage known at the cut-off, for the spread
    select
        reference_vintages.cutoff,
        ((earlier.vintage - (earlier.week_start + 6)) // 7)::integer as lag_weeks,
        earlier.named / reference.named as share,
    from reference_vintages
    inner join counts as reference
        on reference.series = reference_vintages.series
        and reference.vintage = reference_vintages.reference_vintage
    inner join counts as earlier
        on earlier.series = reference_vintages.series
        and earlier.week_start = reference.week_start
        and earlier.vintage < reference_vintages.reference_vintage
    where earlier.week_start + 6 <= earlier.vintage
        and reference_vintages.reference_vintage - (reference.week_start + 6) >= 26 * 7
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
