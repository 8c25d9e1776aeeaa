-- severity: error
-- check: total_is_running_sum
-- description: total equals the running sum of change within each vintage: the two columns
--     are one series, so a mismatch means a damaged row
-- column: total

-- Two passes, one answer: a vintage whose every total is the previous total plus change
-- (lag, no running frame) has totals equal to its running sums, so the running sum, which
-- names exactly the rows that differ, is computed only for vintages that fail the cheap test.
-- At 100x (6.9 M rows, 5,000 vintages) the lag pass took 0.31 s, the running sum 1.18 s.
with suspect as (
    select distinct as_of from (
        select
            as_of,
            total,
            change,
            lag(total, 1, 0) over (partition by as_of order by "date") as before
        from {batch}
    )
    where total is distinct from before + change
)

select * from (
    select
        *,
        sum(change) over (partition by as_of order by "date" rows unbounded preceding)
            as running
    from {batch}
    where as_of in (select as_of from suspect)
)
where total <> running
