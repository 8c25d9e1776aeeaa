-- grain: one row per ISO week (Monday week_start) from 2022-W08
-- key: week_start
-- rows from stg_mediazona_daily: as_of = {as_of} and date_trunc('week', death_date) = {week_start}
-- rows from stg_official_claims: date_trunc('week', report_date) = {week_start}
-- rows from stg_territory_snapshots: snapshot = {occupied_snapshot}
-- rows from stg_territory_area: date_trunc('week', area_date) = {week_start}
-- rows from stg_weekly_named: week_start = {week_start}
with weeks as (
    select * from dim_week
),

daily as (
    select * from fct_daily_losses
),

probate as (
    select * from stg_weekly_named
),

nowcast as (
    -- the nowcast at the newest cut-off (int_nowcast_weekly): the count each week at lags 5-25
    -- will have in the first vintage at least 182 days later; none when the newest cut-off has
    -- none (an older cut-off's nowcast would be stale)
    select * from int_nowcast_weekly
    where cutoff = (select max(cutoff) from int_nowcast_cutoffs)
),

per_week as (
    select
        date_trunc('week', "date")::date as week_start,
        sum(named_deaths)::bigint as named_deaths,
        count(named_deaths) as days_with_named_data,
        bool_or(provisional) as provisional,
        sum(claimed_personnel)::bigint as claimed_personnel,
        -- area at the end of the week: the last day of it that has a value
        arg_max(occupied_km2, "date") filter (where occupied_km2 is not null) as occupied_km2,
        arg_max(occupied_snapshot, "date") filter (where occupied_km2 is not null)
            as occupied_snapshot,
        arg_max(occupied_km2_alt, "date") filter (where occupied_km2_alt is not null)
            as occupied_km2_alt,
        max(as_of) as as_of,
    from daily
    group by 1
),

measured as (
    select
        -- keys
        weeks.week_start,
        weeks.iso_year,
        weeks.iso_week,
        -- named deaths (latest Mediazona vintage, by date of death)
        per_week.named_deaths,
        case when per_week.named_deaths is not null then
            sum(per_week.named_deaths) over (order by weeks.week_start)::bigint
        end as named_cumulative,
        -- only over complete weeks: in provisional ones names still arrive (a year-old week
        -- grows a median 23% in the next half year), so an average there falls towards zero
        -- at the newest weeks however many died; the nowcast covers recent weeks instead
        case when not per_week.provisional
            and period_state(weeks.week_start + 6, (select max(as_of) from per_week)) = 'complete'
        then
            avg(per_week.named_deaths) over (
                order by weeks.week_start rows between 3 preceding and current row
            )
        end as rolling_4w_avg,
        per_week.provisional,
        period_state(weeks.week_start + 6, (select max(as_of) from per_week)) as period_state,
        per_week.days_with_named_data,
        -- official claims and territory
        per_week.claimed_personnel,
        -- territory from the maps: last snapshot at or before the end of the week
        per_week.occupied_km2,
        per_week.occupied_km2
            - lag(per_week.occupied_km2) over (order by weeks.week_start) as km2_gained,
        per_week.occupied_snapshot,
        -- the Economist's series, for comparison
        per_week.occupied_km2_alt,
        per_week.occupied_km2_alt
            - lag(per_week.occupied_km2_alt) over (order by weeks.week_start) as km2_gained_alt,
        -- weeks at lags 5-25: the count expected 26 weeks on, with an 80% band
        nowcast.nowcast_deaths,
        nowcast.nowcast_deaths_low,
        nowcast.nowcast_deaths_high,
        -- independent estimate and cross-check from the weekly series
        probate.probate_estimate,
        probate.probate_estimate_low,
        probate.probate_estimate_high,
        probate.named_deaths_now as named_deaths_weekly_series,
        -- vintage
        per_week.as_of,
    from weeks
    left join per_week on per_week.week_start = weeks.week_start
    left join probate on probate.week_start = weeks.week_start
    left join nowcast on nowcast.week_start = weeks.week_start
),

final as (
    select
        * exclude (as_of),
        -- a week that lost ground or gained none has no meaningful cost per km²
        case when km2_gained > 0 then named_deaths / km2_gained end as deaths_per_km2,
        as_of,
    from measured
)

select * from final order by week_start
