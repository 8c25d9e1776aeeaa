-- grain: one row per alias spelling, mapped to the one region it names
-- key: alias_key
with spellings as (
    -- priority: FIAS/ISO reference first, then the census table, then Bessudnov's name table,
    -- which swaps the codes of Crimea (UA-43) and Sevastopol (UA-40)
    select region_code, region_code as alias, 1 as priority from stg_regions
    union all select region_code, name_ru_short, 1 from stg_regions
    union all select region_code, name_ru, 1 from stg_regions
    union all select region_code, name_en_geonames, 1 from stg_regions
    union all select region_code, name_en_alias, 2 from stg_census_men
    union all select region_code, name_ru, 2 from stg_census_men
    union all select region_code, name_en_alias, 3 from stg_region_names
    union all select region_code, name_ru_full, 3 from stg_region_names
),

keyed as (
    select region_code, alias, alias_key(alias) as alias_key, priority
    from spellings
    where alias_key(alias) is not null
),

best as (
    -- the most trusted table that knows a spelling decides its region
    select *
    from keyed
    qualify priority = min(priority) over (partition by alias_key)
),

unambiguous as (
    -- a spelling that the same table gives two regions would silently pick one: leave it
    -- unmapped instead
    select distinct region_code, alias, alias_key
    from best
    qualify count(distinct region_code) over (partition by alias_key) = 1
)

select * from unambiguous
