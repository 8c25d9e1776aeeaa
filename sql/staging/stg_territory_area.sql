-- grain: one row per day; area assessed as controlled by Russia (The Economist)
with source as (
    select * from raw_territory_area
),

renamed as (
    select
        "date" as area_date,
        area_assessed_as_russia_controlled / 1e6 as occupied_km2,
        area_assessed_as_russia_controlled_percent as occupied_share_pct,
        file_sha256,
        source_row,
    from source
)

select * from renamed
