-- severity: error
-- check: week_starts_monday
-- description: weeks start on Monday: ISO weeks start on Monday, and readers join weeks on
--     week_start
select * from {batch}
where isodow(week_start) <> 1
