-- severity: error
-- check: unmapped_region_share_below_threshold
-- description: the share of records whose region could not be mapped stays below
--     max_unmapped_region_share: above it, a region table or alias is missing
select * from (
    select
        count(*) filter (where region_code = 'UNMAPPED') / count(*) as unmapped_share
    from {batch}
)
where unmapped_share > $max_unmapped_region_share
