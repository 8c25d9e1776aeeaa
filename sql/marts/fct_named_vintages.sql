-- grain: one row per ISO week of death x Mediazona vintage (as_of)
-- key: week_start, as_of
-- partition: as_of
-- rows from stg_mediazona_daily: as_of = {as_of} and date_trunc('week', death_date) = {week_start}
with vintages as (
    select * from stg_mediazona_daily
),

final as (
    select
        -- keys
        date_trunc('week', death_date)::date as week_start,
        as_of,
        -- measures
        sum(named_deaths)::bigint as named_deaths,
        bool_or(provisional) as provisional,
    from vintages
    group by all
)

select * from final order by week_start, as_of
