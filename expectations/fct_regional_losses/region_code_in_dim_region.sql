-- severity: error
-- check: region_code_in_dim_region
-- description: region codes exist in dim_region (or are UNMAPPED), so every regional row
--     has its name and census denominator
select * from {batch}
where region_code <> 'UNMAPPED'
    and region_code not in (select region_code from dim_region)
