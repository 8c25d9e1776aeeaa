-- severity: error
-- check: each_week_equals_its_days
-- description: each week's named deaths equal the sum of its days: weekly figures are the
--     daily ones regrouped, nothing else
select w.week_start, w.named_deaths, d.named
from {batch} w
join (
    select date_trunc('week', "date")::date as week_start, sum(named_deaths) as named
    from fct_daily_losses
    group by all
) d using (week_start)
where w.named_deaths is distinct from d.named
