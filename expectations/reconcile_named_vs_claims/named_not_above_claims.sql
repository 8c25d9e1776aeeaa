-- severity: warning
-- check: named_not_above_claims
-- description: named deaths in a year do not exceed official claims times
--     named_to_claims_max_factor; a warning, since claims are one side's figures, but names
--     above them suggest double counting
select year("date") as "year", sum(named_deaths) as named, sum(claimed_personnel) as claimed
from {batch}
group by all
having sum(claimed_personnel) > 0
    and sum(named_deaths) > sum(claimed_personnel) * $named_to_claims_max_factor
