-- grain: one row per day; area assessed as controlled by Russia (The Economist)
-- key: area_date
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
),

one_per_day as (
    -- the file repeats 2026-04-04 with the same area: keep the later row of a repeated day
    select * from renamed
    qualify row_number() over (partition by area_date order by source_row desc) = 1
)

select * from one_per_day
