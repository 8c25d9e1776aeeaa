-- severity: error
-- check: personnel_never_decreases
-- description: claimed cumulative personnel never decreases: daily claims are its
--     differences, and a step back would make one negative
-- column: personnel
select * from (
    select *, lag(personnel) over (order by "date") as before
    from {batch}
)
where personnel < before
