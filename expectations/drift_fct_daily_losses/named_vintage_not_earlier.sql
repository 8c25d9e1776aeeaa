-- severity: error
-- check: named_vintage_not_earlier
-- description: the Mediazona vintage (source mediazona_daily) neither predates the previous
--     snapshot's nor names deaths up to an earlier day: a file cut short would otherwise
--     publish as news; an intended correction needs `toll run --accept-shrink
--     mediazona_daily`
select * from (
    select
        'mediazona_daily' as source,
        (select max(as_of) from prev_fct_daily_losses) as before_as_of,
        (select max(as_of) from {batch}) as now_as_of,
        (select max("date") from prev_fct_daily_losses where not provisional)
            as before_last_named_day,
        (select max("date") from {batch} where not provisional) as now_last_named_day,
)
where (now_as_of < before_as_of or now_last_named_day < before_last_named_day)
    and not list_contains(string_split($accept_shrink, ','), 'mediazona_daily')
