-- severity: error
-- check: regional_equals_records_per_year
-- description: regional totals equal the national count of records per year (records
--     without a date as year 0): mapping regions neither drops nor duplicates a record
select * from (
    select coalesce("year", 0) as "year", sum(named_deaths) as regional
    from {batch}
    group by all
) r
full join (
    select coalesce(year(death_confirmed_date), 0) as "year", count(*) as records
    from stg_named_records
    group by all
) n using ("year")
where regional is distinct from records
