-- severity: error
-- check: weekly_series_weeks_kept
-- description: every week with a probate estimate or a weekly named count from the
--     Economist / Meduza weekly series (source weekly_named) in the previous snapshot still
--     has one: a lost week means a cut file; an intended correction needs `toll run
--     --accept-shrink weekly_named`
select
    'weekly_named' as source,
    prev.week_start,
    prev.probate_estimate as before_estimate,
    now.probate_estimate as now_estimate,
    prev.named_deaths_weekly_series as before_named,
    now.named_deaths_weekly_series as now_named,
from prev_fct_weekly_losses as prev
left join {batch} as now on now.week_start = prev.week_start
where (
    (prev.probate_estimate is not null and now.probate_estimate is null)
    or (prev.named_deaths_weekly_series is not null and now.named_deaths_weekly_series is null)
)
    and not list_contains(string_split($accept_shrink, ','), 'weekly_named')
order by prev.week_start desc
