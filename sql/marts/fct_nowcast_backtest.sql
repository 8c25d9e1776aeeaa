-- grain: one row per past cut-off whose target vintage is known x nowcast week (lags 5-25):
--     what the nowcast said then against the count the list held at its target vintage
-- key: cutoff, week_start
-- Scores exactly the published target: the count in the first Mediazona vintage at least 182
-- days after the cut-off (nothing interpolated). Each cut-off's nowcast is the published method
-- replayed from the vintages known then (int_nowcast_weekly), so the scores are out of sample.
with nowcasts as (
    select * from int_nowcast_weekly
),

projected as (
    select * from int_nowcast_projected
),

final as (
    select
        -- keys
        nowcasts.cutoff,
        nowcasts.week_start,
        -- what was known at the cut-off and the nowcast made from it
        nowcasts.lag_weeks,
        case
            when nowcasts.lag_weeks < 10 then '5-9'
            when nowcasts.lag_weeks < 15 then '10-14'
            when nowcasts.lag_weeks < 20 then '15-19'
            else '20-25'
        end as lag_band,
        nowcasts.published::bigint as published_at_cutoff,
        nowcasts.projected_deaths,
        nowcasts.correction_factor,
        nowcasts.nowcast_deaths,
        nowcasts.nowcast_deaths_low,
        nowcasts.nowcast_deaths_high,
        -- the outcome: the count at the target vintage
        projected.target_vintage,
        projected.named_at_target::bigint as named_at_target,
        nowcasts.nowcast_deaths / projected.named_at_target - 1 as nowcast_error,
        nowcasts.published / projected.named_at_target - 1 as published_error,
        projected.named_at_target < nowcasts.nowcast_deaths_low as below_band,
        projected.named_at_target > nowcasts.nowcast_deaths_high as above_band,
        projected.named_at_target between nowcasts.nowcast_deaths_low
            and nowcasts.nowcast_deaths_high as within_band,
    from nowcasts
    inner join projected using (cutoff, week_start)
    where projected.named_at_target > 0
)

select * from final order by cutoff, week_start
