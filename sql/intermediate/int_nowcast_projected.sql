-- grain: one row per cut-off (int_nowcast_growth) x ISO week of death at lags 0-40
-- key: cutoff, week_start
-- First step of the nowcast: a week's count at the cut-off grown by the learnt log growth of the
-- next 26 weeks of its life (lags L to L+25; past the longest lag seen, the rate there). The
-- target is observable: the count in the first Mediazona vintage at least 182 days after the
-- cut-off. Each row also carries that target once it is known (target_vintage, named_at_target),
-- so that later cut-offs learn the method's errors from it (int_nowcast_weekly) and the back-test
-- scores it (fct_nowcast_backtest). Lags up to 40 are kept: a published lag (5-25) pools the
-- errors of lags within 6 of it.
with counts as (
    select * from int_named_vintage_counts where series = 'mediazona'
),

growth as (
    select * from int_nowcast_growth
),

longest as (
    select
        cutoff,
        max(lag_weeks) as max_lag,
        arg_max(log_growth_per_day, lag_weeks) as last_rate,
    from growth
    group by cutoff
),

weeks as (
    select
        counts.vintage as cutoff,
        counts.week_start,
        ((counts.vintage - (counts.week_start + 6)) // 7)::integer as lag_weeks,
        counts.named as published,
    from counts
    inner join longest on longest.cutoff = counts.vintage
    -- the week a vintage falls in is unfinished: no nowcast for it
    where counts.week_start + 6 <= counts.vintage
        and counts.vintage - (counts.week_start + 6) < 41 * 7
        and counts.named > 0
),

horizon as (
    -- per cut-off and lag L, the log growth of lags L to L+25: a sliding sum over every lag a
    -- week can reach (0-65), where a join of each week to its 26 lags made 1.3 M rows at 100x
    -- (5,000 daily vintages); exact, as decimals, so the sums do not depend on the order
    select
        cutoff,
        lag_weeks,
        sum(step) over (
            partition by cutoff order by lag_weeks rows between current row and 25 following
        )::double as log_growth,
    from (
        select
            longest.cutoff,
            ahead.lag_weeks,
            (
                7 * coalesce(
                    growth.log_growth_per_day,
                    case when ahead.lag_weeks > longest.max_lag then longest.last_rate end,
                    0
                )
            )::decimal(38, 12) as step,
        from longest
        cross join range(0, 41 + 25) as ahead(lag_weeks)
        left join growth on growth.cutoff = longest.cutoff and growth.lag_weeks = ahead.lag_weeks
    )
),

vintages as (
    select distinct vintage, from counts
),

targets as (
    select cutoffs.cutoff, min(vintages.vintage) as target_vintage,
    from (select distinct cutoff, from weeks) as cutoffs
    inner join vintages on vintages.vintage >= cutoffs.cutoff + 182
    group by all
),

final as (
    select
        weeks.cutoff,
        weeks.week_start,
        weeks.lag_weeks,
        weeks.published,
        weeks.published * exp(horizon.log_growth) as projected_deaths,
        targets.target_vintage,
        at_target.named as named_at_target,
    from weeks
    inner join horizon using (cutoff, lag_weeks)
    left join targets using (cutoff)
    left join counts as at_target
        on at_target.vintage = targets.target_vintage and at_target.week_start = weeks.week_start
)

select * from final
