-- grain: one row per ISO week of death x Mediazona vintage (as_of)
-- key: week_start, as_of
-- partition: as_of
-- rows from stg_mediazona_daily: as_of = {as_of} and date_trunc('week', death_date) = {week_start}
with vintages as (
    -- the sums per vintage and week of stg_mediazona_daily (int_named_vintage_counts)
    select * from int_named_vintage_counts where series = 'mediazona'
),

final as (
    select
        -- keys
        week_start,
        vintage as as_of,
        -- measures
        named::bigint as named_deaths,
        provisional,
    from vintages
)

select * from final order by week_start, as_of
