-- grain: one row per day from 2022-02-24
-- key: date
-- rows from stg_mediazona_daily: as_of = {as_of} and death_date = {date}
-- rows from stg_official_claims: report_date = {date}
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

area as (
    select * from stg_territory_area
),

final as (
    select
        -- keys
        days."date",
        -- measures
        named.named_deaths,
        -- padded trailing zeros and days after the vintage are not known yet
        coalesce(named.provisional, true) as provisional,
        claims.claimed_personnel,
        claims.claimed_personnel_cumulative,
        area.occupied_km2,
        -- vintages
        (select max(as_of) from named) as as_of,
    from days
    left join named on named.death_date = days."date"
    left join claims on claims.report_date = days."date"
    left join area on area.area_date = days."date"
)

select * from final order by "date"
