-- severity: error
-- check: days_contiguous
-- description: one row per day, no gaps: weekly and yearly sums and the daily charts assume
--     every day is there
select * from (
    select
        count(*) as days,
        datediff('day', min("date"), max("date")) + 1 as span
    from {batch}
)
where days <> span
