-- grain: one row per day of death in the latest Mediazona vintage
-- key: death_date
-- not materialized: read twice, the CTE was copied whole (6.9 M rows, every column, at 100x)
-- where the maximum needs one column and the latest vintage's rows are a filtered scan
with vintages as not materialized (
    select * from stg_mediazona_daily
),

latest as (
    select *
    from vintages
    where as_of = (select max(as_of) from vintages)
)

select * from latest
