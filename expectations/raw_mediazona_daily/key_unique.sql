-- severity: error
-- check: key_unique
-- description: one row per vintage and day, so no day is counted twice in a vintage
-- column: date
select * from {batch}
where (as_of, "date") in (
    select as_of, "date" from {batch} group by as_of, "date" having count(*) > 1
)
