-- grain: one row per cut-off (a Mediazona vintage date) x recent ISO week of death
-- Nowcast of a recent week = names published by the cut-off / share published at its lag, with
-- an 80% interval from the 10th and 90th percentiles of that share (int_reporting_lag).
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
        lagged.published / shares.share_published as nowcast_deaths,
        greatest(lagged.published, lagged.published / shares.share_p90) as nowcast_deaths_low,
        greatest(lagged.published, lagged.published / shares.share_p10) as nowcast_deaths_high,
    from lagged
    inner join shares on shares.cutoff = lagged.cutoff and shares.lag_weeks = lagged.lag_weeks
    -- with under 5% of names out, a week says too little to scale up
    where shares.share_p10 >= 0.05
)

select * from final
