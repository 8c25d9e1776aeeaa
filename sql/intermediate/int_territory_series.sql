-- grain: one row per map snapshot in the published occupied-area series
-- key: snapshot
-- Full-layer snapshots are the series (toll measures them layer by layer); pre-filtered files
-- extend it after the last full-layer snapshot. A step that moves the area more than the
-- plausible limit stops the build, naming both snapshots.
with snapshots as (
    select * from stg_territory_snapshots
),

last_full_layer as (
    select max(snapshot_utc) as snapshot_utc
    from snapshots
    where map_format = 'full_layer'
),

series as (
    select snapshots.*
    from snapshots, last_full_layer
    where snapshots.map_format = 'full_layer'
        or last_full_layer.snapshot_utc is null
        or snapshots.snapshot_utc > last_full_layer.snapshot_utc
),

stepped as (
    select
        *,
        lag(snapshot) over by_time as previous_snapshot,
        lag(snapshot_utc) over by_time as previous_snapshot_utc,
        lag(occupied_km2) over by_time as previous_km2,
    from series
    window by_time as (order by snapshot_utc)
),

limited as (
    select
        *,
        occupied_km2 - previous_km2 as change_km2,
        -- the limit grows with the time between snapshots, never below one week's worth
        getvariable('territory_max_change_km2_per_week') * greatest(
            1.0, date_diff('second', previous_snapshot_utc, snapshot_utc) / 604800.0
        ) as change_limit_km2,
    from stepped
),

checked as (
    select
        *,
        case
            when abs(change_km2) > change_limit_km2 then error(
                printf(
                    'territory snapshot %s (%s UTC): occupied area %.0f km² against %.0f km² in '
                    || 'the previous snapshot %s: a change of %.0f km², more than the plausible '
                    || '%.0f km² (setting territory_max_change_km2_per_week)',
                    snapshot, snapshot_utc, occupied_km2, previous_km2, previous_snapshot,
                    change_km2, change_limit_km2
                )
            )
            else true
        end as plausible,
    from limited
)

select * exclude (plausible) from checked where plausible
