-- severity: error
-- check: area_days_kept
-- description: every day with an occupied area from the Economist's series (source
--     territory_area) in the previous snapshot still has one: a lost day means a cut file;
--     an intended correction needs `toll run --accept-shrink territory_area`
select
    'territory_area' as source,
    prev."date",
    prev.occupied_km2_alt as before,
    now.occupied_km2_alt as now,
from prev_fct_daily_losses as prev
left join {batch} as now on now."date" = prev."date"
where prev.occupied_km2_alt is not null
    and now.occupied_km2_alt is null
    and not list_contains(string_split($accept_shrink, ','), 'territory_area')
order by prev."date" desc
