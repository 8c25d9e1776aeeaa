-- severity: warning
-- check: cumulative_claims_non_decreasing
-- description: cumulative claimed personnel never decreases (a backfill of a past range can
--     leave a seam; the raw check is an error)
select * from (
    select *, lag(claimed_personnel_cumulative) over (order by "date") as before
    from {batch}
)
where claimed_personnel_cumulative < before
