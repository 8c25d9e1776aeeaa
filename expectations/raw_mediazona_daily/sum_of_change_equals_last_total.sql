-- severity: error
-- check: sum_of_change_equals_last_total
-- description: in every vintage the sum of daily change equals the last total: no day is
--     missing from the vintage
select as_of, sum(change) as sum_change, arg_max(total, "date") as last_total
from {batch}
group by as_of
having sum(change) <> arg_max(total, "date")
