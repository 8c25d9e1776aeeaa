-- severity: error
-- check: week_starts_monday
-- description: weeks start on Monday: the Economist's ISO year and week become the week's
--     Monday, the key the weekly tables join on
-- column: week_start
select * from {batch}
where isodow(week_start) <> 1
