-- severity: error
-- check: no_date_after_vintage
-- description: no day of death after the vintage date: a vintage cannot name a death that
--     had not happened when it was published
-- column: date
select * from {batch}
where "date" > as_of
