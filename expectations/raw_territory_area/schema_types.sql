-- severity: error
-- check: schema_types
-- description: column types: date DATE, area_assessed_as_russia_controlled DOUBLE: the
--     parser typed every column, so the models never compare dates as text or areas as
--     integers
select * from (
    select
        typeof("date") as "date",
        typeof("area_assessed_as_russia_controlled") as "area_assessed_as_russia_controlled"
    from {batch}
    limit 1
)
where "date" <> 'DATE'
    or "area_assessed_as_russia_controlled" <> 'DOUBLE'
