-- severity: error
-- check: share_below_threshold
-- description: quarantined rows per source stay below max_quarantine_share (from
--     quarantine_error_min_rows rows on): more means the source changed its format, and the
--     tables built without those rows would be wrong
select * from {batch}
where quarantined_rows > $max_quarantine_share * total_rows
    and quarantined_rows >= $quarantine_error_min_rows
