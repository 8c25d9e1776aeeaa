-- severity: error
-- check: schema_types
-- description: column types: region_code VARCHAR, year INTEGER, unit_type VARCHAR,
--     named_deaths BIGINT, rate_per_100k DOUBLE: the published columns keep their types, so
--     readers' queries and joins on the Parquet files keep working
select * from (
    select
        typeof("region_code") as "region_code",
        typeof("year") as "year",
        typeof("unit_type") as "unit_type",
        typeof("named_deaths") as "named_deaths",
        typeof("rate_per_100k") as "rate_per_100k"
    from {batch}
    limit 1
)
where "region_code" <> 'VARCHAR'
    or "year" <> 'INTEGER'
    or "unit_type" <> 'VARCHAR'
    or "named_deaths" <> 'BIGINT'
    or "rate_per_100k" <> 'DOUBLE'
