-- severity: error
-- check: week_starts_monday
-- description: weeks start on Monday: ISO weeks start on Monday, and every weekly table
--     joins on week_start
select * from {batch}
where isodow(week_start) <> 1
