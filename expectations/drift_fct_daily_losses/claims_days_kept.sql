-- severity: error
-- check: claims_days_kept
-- description: every day with a cumulative claim (source official_claims, the UA General
--     Staff file) in the previous snapshot still has one: a day that disappears means the
--     file lost reports; an intended correction needs `toll run --accept-shrink
--     official_claims`
select
    'official_claims' as source,
    prev."date",
    prev.claimed_personnel_cumulative as before,
    now.claimed_personnel_cumulative as now,
from prev_fct_daily_losses as prev
left join {batch} as now on now."date" = prev."date"
where prev.claimed_personnel_cumulative is not null
    and now.claimed_personnel_cumulative is null
    and not list_contains(string_split($accept_shrink, ','), 'official_claims')
order by prev."date" desc
