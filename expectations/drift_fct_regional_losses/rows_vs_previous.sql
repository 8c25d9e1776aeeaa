-- severity: error
-- check: rows_vs_previous
-- description: row count between snapshot_min_ratio and snapshot_max_ratio times the
--     previous snapshot's: a larger jump means a source lost or doubled its rows, not that
--     the war changed overnight
select * from (
    select
        (select count(*) from {batch}) as now,
        (select count(*) from prev_fct_regional_losses) as before
)
where before > 0
    and (now < before * $snapshot_min_ratio or now > before * $snapshot_max_ratio)
