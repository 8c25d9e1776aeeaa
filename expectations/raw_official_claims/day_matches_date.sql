-- severity: warning
-- check: day_matches_date
-- description: the day of war equals date - 2022-02-23; a warning, since toll reads the
--     date and the day number is the source's own
-- column: day
select * from {batch}
where "day" <> datediff('day', date '2022-02-23', "date")
