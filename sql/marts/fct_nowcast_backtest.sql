-- grain: one row per past cut-off (a Mediazona vintage at least 26 weeks before the newest) x
--     nowcast week: what the nowcast said then against what the newest vintage knows now
-- key: cutoff, week_start
with nowcasts as (
    select * from int_nowcast_weekly
),

vintages as (
    select * from int_named_vintage_counts
    where series = 'mediazona'
),

-- An observable target beside the moving one: the count in the first vintage at least 182
-- days after the cut-off (the newest vintage drifts from 28 to 80 weeks after the cut-offs,
-- so an error against it changes whenever a vintage arrives).
target as (
    select nowcasts.cutoff, nowcasts.week_start, min(vintages.vintage) as target_vintage,
    from nowcasts
    inner join vintages
        on vintages.week_start = nowcasts.week_start
        and vintages.vintage >= nowcasts.cutoff + 182
    group by all
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
        -- the same nowcast against the count 26 weeks after its cut-off
        target.target_vintage,
        at_target.named::bigint as named_at_target,
        at_target.named between nowcasts.nowcast_deaths_low and nowcasts.nowcast_deaths_high
            as within_interval_at_target,
    from nowcasts
    inner join latest on latest.week_start = nowcasts.week_start
    left join target
        on target.cutoff = nowcasts.cutoff and target.week_start = nowcasts.week_start
    left join vintages as at_target
        on at_target.vintage = target.target_vintage
        and at_target.week_start = nowcasts.week_start
    where latest.vintage - nowcasts.cutoff >= 26 * 7
)

select * from final order by cutoff, week_start
