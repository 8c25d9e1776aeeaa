-- severity: error
-- check: key_unique
-- description: one row per vintage and day, so no day is counted twice in a vintage
-- column: date
select * exclude (repeated) from (
    select
        *,
        "date" = lag("date") over vintage or "date" = lead("date") over vintage as repeated
    from {batch}
    where as_of is not null
    window vintage as (partition by as_of order by "date")
)
where repeated
