-- grain: one row per nowcast cut-off (a Mediazona vintage date)
-- key: cutoff
-- The nowcast is made, and back-tested, as at each cut-off. Daily vintages over years would make
-- that work grow with cut-offs x history (the spread and the calibration take quantiles, which
-- no running sum gives), so there is at most one cut-off per 4 days: the newest vintage of each
-- 4-day period counted from a fixed day, so that a past cut-off stays one. The real vintages
-- are at least 4 days apart, so every one of them is a cut-off.
select max(vintage) as cutoff,
from int_named_vintage_counts
where series = 'mediazona'
group by (vintage - date '2022-02-24') // 4
