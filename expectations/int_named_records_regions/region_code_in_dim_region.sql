-- severity: error
-- check: region_code_in_dim_region
-- description: mapped region codes exist in dim_region: a record mapped to a code with no
--     region would fall out of the regional table
-- column: region_code
select * from {batch}
where region_code not in ('UNMAPPED')
    and region_code not in (select region_code from dim_region)
