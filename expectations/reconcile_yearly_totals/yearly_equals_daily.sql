-- severity: error
-- check: yearly_equals_daily
-- description: calendar-year totals equal the sum of their days: the yearly summary
--     regroups the daily table, nothing else
select y.period, y.named_deaths, d.named
from {batch} y
join (
    select year("date")::varchar as period, sum(named_deaths) as named
    from fct_daily_losses
    group by all
) d using (period)
where y.period_type = 'calendar' and y.named_deaths <> d.named
