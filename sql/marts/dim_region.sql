-- grain: one row per region (ISO 3166-2), plus UNKNOWN for records without a region
-- key: region_code
-- rows from stg_regions: region_code = {region_code}
-- rows from stg_census_men: region_code = {region_code}
with regions as (
    select * from stg_regions
),

names as (
    select * from stg_region_names
),

census as (
    select * from stg_census_men
),

aliases as (
    select region_code, list(distinct alias order by alias) as aliases
    from int_region_aliases
    group by region_code
),

known as (
    select
        -- keys
        coalesce(regions.region_code, names.region_code) as region_code,
        -- attributes
        coalesce(regions.name_en_geonames, names.name_en_alias) as name_en,
        coalesce(regions.name_ru, names.name_ru_full) as name_ru,
        regions.federal_district_ru as federal_district,
        -- measures
        census.men_16_61,
        aliases.aliases,
    from regions
    full join names on names.region_code = regions.region_code
    left join census on census.region_code = coalesce(regions.region_code, names.region_code)
    left join aliases on aliases.region_code = coalesce(regions.region_code, names.region_code)
),

unknown as (
    select
        'UNKNOWN' as region_code,
        'Unknown (no region in the record)' as name_en,
        'Неизвестно' as name_ru,
        null as federal_district,
        null::bigint as men_16_61,
        []::varchar[] as aliases,
)

select * from known
union all
select * from unknown
order by region_code
