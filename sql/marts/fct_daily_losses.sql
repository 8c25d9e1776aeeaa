-- grain: one row per day from 2022-02-24
-- key: date
-- rows from stg_mediazona_daily: as_of = {as_of} and death_date = {date}
-- rows from stg_official_claims: report_date = {date}
-- rows from stg_territory_snapshots: snapshot = {occupied_snapshot}
-- rows from stg_territory_area: area_date = {date}
with days as (
    select * from int_calendar_days
),

named as (
    select * from int_named_daily_latest
),

claims as (
    select * from stg_official_claims
),

area_alt as (
    select * from stg_territory_area
),

maps as (
    select * from int_territory_series
),

area as (
    -- the last map snapshot at or before the end of the day (UTC), unless it is too old
    select
        days."date",
        maps.occupied_km2,
        maps.grey_zone_km2,
        maps.snapshot,
        maps.snapshot_utc,
    from days
    asof inner join maps on days."date" + interval 1 day > maps.snapshot_utc
    where days."date" - maps.snapshot_utc::date <= getvariable('territory_max_snapshot_age_days')
),

final as (
    select
        -- keys
        days."date",
        -- measures
        named.named_deaths,
        -- padded trailing zeros and days after the vintage are not known yet
        coalesce(named.provisional, true) as provisional,
        case
            when coalesce(named.provisional, true) and days."date" <= (select max(as_of) from named)
                then 'provisional'
            else period_state(days."date", (select max(as_of) from named))
        end as period_state,
        claims.claimed_personnel,
        claims.claimed_personnel_cumulative,
        -- territory: from the DeepState maps; the Economist's series beside it for comparison
        area.occupied_km2,
        area.grey_zone_km2,
        area.snapshot as occupied_snapshot,
        area_alt.occupied_km2 as occupied_km2_alt,
        -- vintages
        (select max(as_of) from named) as as_of,
    from days
    left join named on named.death_date = days."date"
    left join claims on claims.report_date = days."date"
    left join area on area."date" = days."date"
    left join area_alt on area_alt.area_date = days."date"
)

select * from final order by "date"
