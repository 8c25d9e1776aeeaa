-- severity: error
-- check: rows_not_dropped
-- description: no source reads more than max_source_row_drop_share fewer rows than the raw
--     files the previous snapshot was built from: a source that lost rows (a file cut short
--     or filtered upstream) would otherwise publish smaller numbers without a word; an
--     intended correction needs `toll run --accept-shrink SOURCE`
select
    source,
    rows_before,
    rows_now,
    round(1 - rows_now / rows_before, 4) as dropped_share,
    files_before,
    files_now,
from {batch}
where rows_before > 0
    and rows_now < rows_before * (1 - $max_source_row_drop_share)
    and not list_contains(string_split($accept_shrink, ','), source)
order by source
