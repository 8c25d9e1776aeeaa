-- severity: error
-- check: estimate_low_not_above_high
-- description: estimate_low <= estimate_high: the range of real deaths from named deaths
--     and coverage_low/coverage_high cannot be upside down
select * from {batch}
where estimate_low > estimate_high
