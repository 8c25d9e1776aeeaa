-- severity: error
-- check: daily_change_bounded
-- description: the day-to-day change of occupied area stays below
--     max_occupied_daily_change_km2: a larger one is a unit or typing error in the series,
--     not a front line
-- column: occupied_km2
select * from (
    select
        *,
        occupied_km2 - lag(occupied_km2) over (order by area_date) as change_km2
    from {batch}
)
where abs(change_km2) > $max_occupied_daily_change_km2
