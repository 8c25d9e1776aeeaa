-- severity: warning
-- check: daily_vs_weekly_series_per_year
-- description: Mediazona's daily counts and the Economist's weekly named series agree per
--     ISO year within cross_source_tolerance; a warning, since the two lists are compiled
--     apart
select
    iso_year,
    sum(named_deaths) as mediazona_daily,
    sum(named_deaths_weekly_series) as weekly_series
from {batch}
where named_deaths_weekly_series is not null
group by all
having abs(sum(named_deaths) - sum(named_deaths_weekly_series))
    > $cross_source_tolerance * greatest(sum(named_deaths_weekly_series), 1)
