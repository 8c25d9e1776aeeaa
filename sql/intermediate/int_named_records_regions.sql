-- grain: one row per named soldier, with the region alias mapped to an ISO 3166-2 code
-- key: record_id
with records as (
    select * from stg_named_records
),

aliases as (
    select distinct alias_key, region_code from int_region_aliases
),

mapped as (
    select
        records.*,
        case
            when records.region_alias is null then 'UNKNOWN'
            else coalesce(aliases.region_code, 'UNMAPPED')
        end as region_code,
    from records
    left join aliases on aliases.alias_key = alias_key(records.region_alias)
)

select * from mapped
