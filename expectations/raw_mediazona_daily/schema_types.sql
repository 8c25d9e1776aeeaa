-- severity: error
-- check: schema_types
-- description: column types: date DATE, change BIGINT, total BIGINT, as_of DATE: the parser
--     typed every column, so the models never compare dates as text or counts as floats
select * from (
    select
        typeof("date") as "date",
        typeof("change") as "change",
        typeof("total") as "total",
        typeof("as_of") as "as_of"
    from {batch}
    limit 1
)
where "date" <> 'DATE'
    or "change" <> 'BIGINT'
    or "total" <> 'BIGINT'
    or "as_of" <> 'DATE'
