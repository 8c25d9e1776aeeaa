-- severity: error
-- check: schema_types
-- description: column types: date DATE, named_deaths BIGINT, claimed_personnel BIGINT,
--     occupied_km2 DOUBLE, as_of DATE: the published columns keep their types, so readers'
--     queries and joins on the Parquet files keep working
select * from (
    select
        typeof("date") as "date",
        typeof("named_deaths") as "named_deaths",
        typeof("claimed_personnel") as "claimed_personnel",
        typeof("occupied_km2") as "occupied_km2",
        typeof("as_of") as "as_of"
    from {batch}
    limit 1
)
where "date" <> 'DATE'
    or "named_deaths" <> 'BIGINT'
    or "claimed_personnel" <> 'BIGINT'
    or "occupied_km2" <> 'DOUBLE'
    or "as_of" <> 'DATE'
