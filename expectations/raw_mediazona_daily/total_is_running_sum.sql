-- severity: error
-- check: total_is_running_sum
-- description: total equals the running sum of change within each vintage: the two columns
--     are one series, so a mismatch means a damaged row
-- column: total
select * from (
    select
        *,
        sum(change) over (partition by as_of order by "date" rows unbounded preceding)
            as running
    from {batch}
)
where total <> running
