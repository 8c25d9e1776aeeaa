-- grain: one row per day from the invasion to the newest day any daily source covers
-- key: date
with bounds as (
    select
        date '2022-02-24' as first_day,
        greatest(
            (select max(death_date) from int_named_daily_latest),
            (select max(report_date) from stg_official_claims),
            (select max(area_date) from stg_territory_area)
        ) as last_day,
),

days as (
    select cast(day as date) as "date"
    from bounds, range(bounds.first_day, bounds.last_day + interval 1 day, interval 1 day) as t(day)
)

select * from days
