-- grain: one row per cut-off (int_nowcast_cutoffs) x recent ISO week of death
-- key: cutoff, week_start
-- First stage of the nowcast: names published by the cut-off / share published at its lag
-- (int_reporting_lag, learnt from the vintages known at the cut-off). On its own it runs low:
-- names keep arriving for years, faster than past lags suggest; int_nowcast_weekly corrects it.
with counts as (
    select * from int_named_vintage_counts where series = 'mediazona'
),

shares as (
    select * from int_reporting_lag
),

lagged as (
    select
        vintage as cutoff,
        week_start,
        named as published,
        ((vintage - (week_start + 6)) // 7)::integer as lag_weeks,
    from counts
    -- the week a vintage falls in is unfinished: no nowcast for it
    where week_start + 6 <= vintage
),

final as (
    select
        lagged.cutoff,
        lagged.week_start,
        lagged.lag_weeks,
        lagged.published,
        shares.share_published,
        lagged.published / shares.share_published as chain_ladder_deaths,
    from lagged
    inner join shares on shares.cutoff = lagged.cutoff and shares.lag_weeks = lagged.lag_weeks
    -- with under 5% of names out, a week says too little to scale up
    where shares.share_p10 >= 0.05
)

select * from final
