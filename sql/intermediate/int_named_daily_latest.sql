-- grain: one row per day of death in the latest Mediazona vintage
-- key: death_date
with vintages as (
    select * from stg_mediazona_daily
),

latest as (
    select *
    from vintages
    where as_of = (select max(as_of) from vintages)
)

select * from latest
