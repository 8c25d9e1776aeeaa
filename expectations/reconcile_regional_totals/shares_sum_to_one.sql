-- severity: error
-- check: shares_sum_to_one
-- description: the regional shares of a year sum to 1 (within 1e-9): every death of the
--     year is in exactly one region's share
select "year", sum(share_of_year) as total_share
from {batch}
where "year" is not null
group by all
having abs(sum(share_of_year) - 1) > 1e-9
