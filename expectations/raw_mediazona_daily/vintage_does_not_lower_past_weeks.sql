-- severity: error
-- check: vintage_does_not_lower_past_weeks
-- description: a new vintage lowers no past week by more than vintage_max_week_drop_share
--     and vintage_max_week_drop_abs: names are added late but rarely withdrawn, so a large
--     drop means a truncated or broken file (the rows: the week, the vintage and its file,
--     the week's count in the vintage before and in this one)
with weeks as (
    select
        as_of,
        file_sha256,
        date_trunc('week', "date")::date as week_start,
        sum(change) as named,
    from {batch}
    group by all
),

compared as (
    select
        week_start,
        as_of,
        file_sha256,
        lag(named) over (partition by week_start order by as_of) as before,
        named as now,
    from weeks
)

select * from compared
where before is not null
    and now < before * (1 - $vintage_max_week_drop_share) - $vintage_max_week_drop_abs
order by as_of desc, week_start
