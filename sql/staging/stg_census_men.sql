-- grain: one row per region; men aged 16-61.5 in the 2021 census
-- key: region_code
with source as (
    select * from raw_census_men
),

renamed as (
    select
        iso_region_code(regNameISO) as region_code,
        region as name_ru,
        regNameEng as name_en_alias,
        nMen16_615_2021 as men_16_61,
        file_sha256,
    from source
)

select * from renamed
