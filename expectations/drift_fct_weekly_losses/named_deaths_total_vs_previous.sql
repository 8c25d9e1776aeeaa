-- severity: error
-- check: named_deaths_total_vs_previous
-- description: total named_deaths between snapshot_min_ratio and snapshot_max_ratio times
--     the previous snapshot's: a larger jump means a source lost or doubled its rows, not
--     that the war changed overnight
select * from (
    select
        (select sum(named_deaths) from {batch}) as now,
        (select sum(named_deaths) from prev_fct_weekly_losses) as before
)
where before > 0
    and (now < before * $snapshot_min_ratio or now > before * $snapshot_max_ratio)
