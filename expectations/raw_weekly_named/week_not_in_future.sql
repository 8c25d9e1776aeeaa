-- severity: error
-- check: week_not_in_future
-- description: no ISO week after the run date: counts of weeks that have not happened are a
--     mistyped year or week
-- column: Week
select * from {batch}
where make_date("Year", 1, 4) + to_weeks("Week" - 1) > $run_date
