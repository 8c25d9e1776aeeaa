-- severity: error
-- check: unmapped_share_below_threshold
-- description: the share of named deaths whose region could not be mapped stays below
--     max_unmapped_region_share: above it, the regional table would misstate where the dead
--     came from
select * from (
    select
        sum(named_deaths) filter (where region_code = 'UNMAPPED') / sum(named_deaths)
            as unmapped_share
    from {batch}
)
where unmapped_share > $max_unmapped_region_share
