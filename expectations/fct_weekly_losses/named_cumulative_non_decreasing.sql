-- severity: error
-- check: named_cumulative_non_decreasing
-- description: cumulative named deaths never decrease: a running total of counts can only
--     grow
select * from (
    select *, lag(named_cumulative) over (order by week_start) as before
    from {batch}
)
where named_cumulative < before
