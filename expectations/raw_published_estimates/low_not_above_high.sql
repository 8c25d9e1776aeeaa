-- severity: error
-- check: low_not_above_high
-- description: estimate_low <= estimate_high: a published range cannot be upside down, so a
--     swap means the row was read wrongly
-- column: estimate_low
select * from {batch}
where estimate_low > estimate_high
