-- grain: one row per region listed in FIAS (hflabs), incl. Crimea, Sevastopol and Baikonur
-- key: region_code
with source as (
    select * from raw_regions
),

renamed as (
    select
        trim(iso_code) as region_code,
        trim(name) as name_ru_short,
        trim(name_with_type) as name_ru,
        trim("type") as region_type_ru,
        nullif(trim(federal_district), '') as federal_district_ru,
        trim(geoname_name) as name_en_geonames,
        okato,
        kladr_id,
        file_sha256,
    from source
)

select * from renamed
