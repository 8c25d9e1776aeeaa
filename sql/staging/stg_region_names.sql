-- grain: one row per region in Bessudnov's naming table
-- key: region_code
with source as (
    select * from raw_region_names
),

renamed as (
    select
        iso_region_code(regNameISO) as region_code,
        regName as name_ru_full,
        regNameEng as name_en_alias,
        g_00_4_regterson as okato_prefix,
        file_sha256,
    from source
)

select * from renamed
