-- severity: error
-- check: key_unique
-- description: one row per region x year x unit type, so regional sums count each group
--     once
select region_code, "year", unit_type, count(*) as copies
from {batch}
group by all
having count(*) > 1
