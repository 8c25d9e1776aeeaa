-- severity: error
-- check: schema_types
-- description: column types: id BIGINT, birthYear BIGINT, deathConfirmedDate DATE, unitType
--     VARCHAR, age BIGINT, region VARCHAR: the parser typed every column, so the models
--     never compare dates as text or counts as floats
select * from (
    select
        typeof("id") as "id",
        typeof("birthYear") as "birthYear",
        typeof("deathConfirmedDate") as "deathConfirmedDate",
        typeof("unitType") as "unitType",
        typeof("age") as "age",
        typeof("region") as "region"
    from {batch}
    limit 1
)
where "id" <> 'BIGINT'
    or "birthYear" <> 'BIGINT'
    or "deathConfirmedDate" <> 'DATE'
    or "unitType" <> 'VARCHAR'
    or "age" <> 'BIGINT'
    or "region" <> 'VARCHAR'
