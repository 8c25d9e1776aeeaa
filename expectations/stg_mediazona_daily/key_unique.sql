-- severity: error
-- check: key_unique
-- description: one row per vintage and day of death
-- column: death_date
select * from {batch}
where (as_of, death_date) in (
    select as_of, death_date from {batch} group by as_of, death_date having count(*) > 1
)
