-- grain: one row per DeepState map snapshot in the published occupied-area series
-- key: snapshot
-- rows from stg_territory_snapshots: snapshot = {snapshot}
-- Each snapshot beside the other DeepState format (the pre-filtered file nearest in time,
-- within 12 hours) and the Economist's daily series (same UTC date), with the gaps and the
-- tolerances they are checked against.
with series as (
    select * from int_territory_series
),

prefiltered as (
    select * from stg_territory_snapshots where map_format = 'prefiltered'
),

economist as (
    select * from stg_territory_area
),

paired as (
    select
        series.*,
        (
            select p.occupied_km2 from prefiltered as p
            where series.map_format = 'full_layer'
                and abs(date_diff('second', p.snapshot_utc, series.snapshot_utc)) <= 12 * 3600
            order by abs(date_diff('second', p.snapshot_utc, series.snapshot_utc))
            limit 1
        ) as prefiltered_km2,
        economist.occupied_km2 as economist_km2,
    from series
    left join economist on economist.area_date = series.snapshot_utc::date
),

final as (
    select
        -- keys
        snapshot,
        -- dates
        snapshot_utc,
        as_of,
        -- measures
        map_format,
        occupied_km2,
        grey_zone_km2,
        polygons,
        outside_ukraine_polygons,
        change_km2,
        -- agreement with the other series
        prefiltered_km2,
        occupied_km2 - prefiltered_km2 as format_gap_km2,
        getvariable('territory_format_tolerance_km2') as format_tolerance_km2,
        abs(occupied_km2 - prefiltered_km2)
            <= getvariable('territory_format_tolerance_km2') as formats_agree,
        economist_km2,
        occupied_km2 - economist_km2 as economist_gap_km2,
        getvariable('territory_economist_tolerance_km2') as economist_tolerance_km2,
        abs(occupied_km2 - economist_km2)
            <= getvariable('territory_economist_tolerance_km2') as economist_agrees,
        -- lineage
        file_sha256,
    from paired
)

select * from final order by snapshot_utc
