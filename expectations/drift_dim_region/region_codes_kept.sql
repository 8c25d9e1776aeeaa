-- severity: error
-- check: region_codes_kept
-- description: every region code the reference table of regions (source regions, hflabs)
--     gave a federal district in the previous snapshot still has one: a region lost from
--     that file would otherwise live on only through the region names file; an intended
--     correction needs `toll run --accept-shrink regions`
select
    'regions' as source,
    prev.region_code,
    prev.federal_district as before,
    now.federal_district as now,
from prev_dim_region as prev
left join {batch} as now on now.region_code = prev.region_code
where prev.federal_district is not null
    and now.federal_district is null
    and not list_contains(string_split($accept_shrink, ','), 'regions')
order by prev.region_code
