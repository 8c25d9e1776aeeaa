-- severity: error
-- check: schema_types
-- description: column types: Year BIGINT, Week BIGINT, BmzNow BIGINT: the parser typed
--     every column, so weeks and counts are integers and never text
select * from (
    select
        typeof("Year") as "Year",
        typeof("Week") as "Week",
        typeof("BmzNow") as "BmzNow"
    from {batch}
    limit 1
)
where "Year" <> 'BIGINT'
    or "Week" <> 'BIGINT'
    or "BmzNow" <> 'BIGINT'
