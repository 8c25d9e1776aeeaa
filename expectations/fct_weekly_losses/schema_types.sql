-- severity: error
-- check: schema_types
-- description: column types: week_start DATE, iso_year INTEGER, iso_week INTEGER,
--     named_deaths BIGINT, occupied_km2 DOUBLE: the published columns keep their types, so
--     readers' queries and joins on the Parquet files keep working
select * from (
    select
        typeof("week_start") as "week_start",
        typeof("iso_year") as "iso_year",
        typeof("iso_week") as "iso_week",
        typeof("named_deaths") as "named_deaths",
        typeof("occupied_km2") as "occupied_km2"
    from {batch}
    limit 1
)
where "week_start" <> 'DATE'
    or "iso_year" <> 'INTEGER'
    or "iso_week" <> 'INTEGER'
    or "named_deaths" <> 'BIGINT'
    or "occupied_km2" <> 'DOUBLE'
