-- grain: one row per vintage (as_of) x day of death
-- key: as_of, death_date
with source as (
    select * from raw_mediazona_daily
),

renamed as (
    select
        -- keys
        as_of,
        "date" as death_date,
        -- measures
        change as named_deaths,
        total as named_cumulative,
        -- trailing days padded with zeros until the scrape: not real zeros
        padded as provisional,
        -- lineage
        file_sha256,
        source_row,
    from source
)

select * from renamed
