-- severity: error
-- check: daily_equals_latest_raw_vintage
-- description: daily totals equal the records of the latest Mediazona vintage: the build
--     neither drops nor adds a death
select * from (
    select
        (select sum(named_deaths) from {batch}) as daily,
        (
            select sum(named_deaths) from stg_mediazona_daily
            where as_of = (select max(as_of) from stg_mediazona_daily)
        ) as raw_latest
)
where daily <> raw_latest
