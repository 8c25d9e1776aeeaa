-- grain: one row per past cut-off (a Mediazona vintage at least 26 weeks before the newest) x
--     nowcast week: what the nowcast said then against what the newest vintage knows now
-- key: cutoff, week_start
with nowcasts as (
    select * from int_nowcast_weekly
),

latest as (
    select * from int_named_vintage_counts
    where series = 'mediazona'
    qualify vintage = max(vintage) over ()
),

final as (
    select
        -- keys
        nowcasts.cutoff,
        nowcasts.week_start,
        -- what was known at the cut-off and the nowcast made from it
        nowcasts.lag_weeks,
        nowcasts.published::bigint as published_at_cutoff,
        nowcasts.chain_ladder_deaths,
        nowcasts.factor as correction_factor,
        nowcasts.nowcast_deaths,
        nowcasts.nowcast_deaths_low,
        nowcasts.nowcast_deaths_high,
        -- what the newest vintage knows (still not final: names keep coming for years)
        latest.named::bigint as known_now,
        latest.vintage as known_now_as_of,
        latest.named between nowcasts.nowcast_deaths_low and nowcasts.nowcast_deaths_high
            as within_interval,
    from nowcasts
    inner join latest on latest.week_start = nowcasts.week_start
    where latest.vintage - nowcasts.cutoff >= 26 * 7
)

select * from final order by cutoff, week_start
