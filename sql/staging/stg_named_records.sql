-- grain: one row per named soldier (Bessudnov 2023); duplicates on all but id are kept
-- key: record_id
with source as (
    select * from raw_named_records
),

renamed as (
    select
        -- keys
        id as record_id,
        -- dates: the death was confirmed or reported then, not necessarily when it happened
        deathConfirmedDate as death_confirmed_date,
        -- attributes
        coalesce(nullif(trim(unitType), ''), 'unknown') as unit_type,
        birthYear as birth_year,
        age,
        nullif(trim(region), '') as region_alias,
        -- lineage
        as_of,
        file_sha256,
        source_row,
    from source
)

select * from renamed
