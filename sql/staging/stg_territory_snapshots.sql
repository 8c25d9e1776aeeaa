-- grain: one row per DeepState map snapshot (full-layer export or pre-filtered file)
-- key: snapshot
with source as (
    select * from raw_territory
),

renamed as (
    select
        -- keys
        snapshot,
        -- dates: the instant the map shows (UTC) and the date it is filed under
        snapshot_utc,
        as_of,
        -- what kind of file it is
        map_format,
        -- measures: union of Occupied, Occupied Crimea, CADR and CALR; grey zone beside it
        occupied_km2,
        grey_zone_km2,
        occupied_polygons as polygons,
        grey_zone_polygons,
        outside_ukraine_polygons,
        features,
        -- lineage
        file_sha256,
    from source
),

one_per_snapshot as (
    -- a snapshot fetched again with other bytes: its newest content counts
    select * from renamed
    qualify row_number() over (partition by snapshot order by as_of desc, file_sha256) = 1
)

select * from one_per_snapshot
