-- severity: error
-- check: schema_types
-- description: column types: date DATE, day BIGINT, personnel BIGINT: the parser typed
--     every column, so the models never compare dates as text or counts as floats
select * from (
    select
        typeof("date") as "date",
        typeof("day") as "day",
        typeof("personnel") as "personnel"
    from {batch}
    limit 1
)
where "date" <> 'DATE'
    or "day" <> 'BIGINT'
    or "personnel" <> 'BIGINT'
