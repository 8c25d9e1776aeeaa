-- severity: error
-- check: weekly_area_change_bounded
-- description: the week-to-week change of occupied area stays below 7 times
--     max_occupied_daily_change_km2: a larger one is a mismeasured map, not a front line
select * from {batch}
where abs(km2_gained) > 7 * $max_occupied_daily_change_km2
