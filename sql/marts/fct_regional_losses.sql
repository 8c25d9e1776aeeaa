-- grain: one row per region x year of death confirmation x unit type (Bessudnov records)
-- key: region_code, year, unit_type
-- rows from int_named_records_regions: region_code = {region_code}
--     and year(death_confirmed_date) is not distinct from {year}
--     and unit_type is not distinct from {unit_type}
with records as (
    select * from int_named_records_regions
),

regions as (
    select * from dim_region
),

counted as (
    select
        region_code,
        -- year the death was confirmed; NULL for the records without a date
        year(death_confirmed_date)::integer as "year",
        unit_type,
        count(*) as named_deaths,
    from records
    group by all
),

final as (
    select
        -- keys
        counted.region_code,
        counted."year",
        counted.unit_type,
        -- measures
        counted.named_deaths,
        regions.men_16_61,
        counted.named_deaths * 100000.0 / regions.men_16_61 as rate_per_100k,
        counted.named_deaths * 1.0
            / sum(counted.named_deaths) over (partition by counted."year") as share_of_year,
    from counted
    left join regions on regions.region_code = counted.region_code
)

select * from final order by region_code, "year" nulls last, unit_type
