-- severity: error
-- check: key_unique
-- description: one row per vintage and day of death
-- column: death_date
select * exclude (repeated) from (
    select
        *,
        death_date = lag(death_date) over vintage
        or death_date = lead(death_date) over vintage as repeated
    from {batch}
    where as_of is not null
    window vintage as (partition by as_of order by death_date)
)
where repeated
