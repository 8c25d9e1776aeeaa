-- severity: error
-- check: weekly_equals_daily_equals_vintage
-- description: weekly totals equal daily totals equal the latest vintage: the three tables
--     tell one count, so readers get the same total whichever they use
select * from (
    select
        (select sum(named_deaths) from {batch}) as weekly,
        (select sum(named_deaths) from fct_daily_losses) as daily,
        (
            select sum(named_deaths) from fct_named_vintages
            where as_of = (select max(as_of) from fct_named_vintages)
        ) as latest_vintage
)
where weekly <> daily or daily <> latest_vintage
