-- grain: one row per cut-off (int_nowcast_cutoffs) x lag in whole weeks
-- key: cutoff, lag_weeks
-- How fast a week's count of names still grows at each lag (weeks from the end of the week of
-- death), learnt as at each cut-off from Mediazona's own vintages only (the weekly series'
-- year-end columns count a different, larger list and step once a year). Between two consecutive
-- vintages a week's count grows by a factor; its log, spread evenly over the lags the step
-- covers, gives a log growth per day at each lag (weighted by the week's count).
-- Only steps ending in the 13 weeks before the cut-off count, and a cut-off needs 13 weeks of
-- vintages behind it: publication of old names keeps speeding up, so older steps understate it.
-- The window was chosen by the back-test (fct_nowcast_scores, real data to vintage 2026-01-30,
-- lags 5-25, with the bias correction of int_nowcast_weekly): window-total mean absolute error /
-- bias / coverage of the 80% band were 9 weeks 19.8% / +0.3% / 58.5%, 13 weeks 15.2% / -3.6% /
-- 83.7%, 17 weeks 13.6% / -3.7% / 71.9%, 26 weeks 16.0% / -8.5% / 54.0%: 13 is the only one
-- meeting all three targets (MAE <= 16%, |bias| <= 10%, coverage 72-88%).
-- Cost stays linear in vintages: the steps are found once, summed per lag as they end, and a
-- cut-off's window is the difference of two running sums (5,000 daily vintages: 13.2 s when
-- each cut-off summed its window's steps, 3.3 s this way; equal to the bit).
with counts as (
    select * from int_named_vintage_counts where series = 'mediazona'
),

cutoffs as (
    select * from int_nowcast_cutoffs
    -- a full 13-week window of vintage steps behind the cut-off
    where cutoff >= (select min(vintage) from counts) + 13 * 7
),

pairs as (
    -- one week's count at two consecutive vintages
    select
        week_start,
        vintage,
        next_vintage,
        ((vintage - (week_start + 6)) // 7)::integer as lag_from,
        ((next_vintage - (week_start + 6)) // 7)::integer as lag_next,
        named as named_from,
        next_named as named_to,
    from (
        select
            counts.*,
            lead(vintage) over w as next_vintage,
            lead(named) over w as next_named,
        from counts
        window w as (partition by week_start order by vintage)
    )
    where next_vintage is not null
        and week_start + 6 <= vintage
        -- tiny counts give wild ratios
        and named >= 30
        -- a week that drops to no names is a broken vintage (the gates judge it); its log
        -- ratio would be -inf and poison every rate
        and next_named > 0
),

steps as (
    -- a step inside one lag still counts for that lag
    select *, greatest(lag_next, lag_from + 1) as lag_to,
    from pairs
),

bounds as (
    -- the days a cut-off's window ends on and starts after
    select cutoff as bound, from cutoffs
    union
    select cutoff - 13 * 7 - 1, from cutoffs
),

step_bounds as (
    -- each step's end day, with the first bound on or after it: the windows need the running
    -- sums at the bounds only, so the steps are summed per bound first (5,000 daily vintages:
    -- 978,057 rows of step ends x lags become 245,842 of bounds x lags, and this model took
    -- 0.31 s instead of 1.22 s; decimal running sums are slow). Steps ending after the last
    -- bound are in no window.
    select ends.next_vintage, bounds.bound,
    from (select distinct next_vintage, from steps) as ends
    asof inner join bounds on ends.next_vintage <= bounds.bound
),

step_lags as (
    -- the steps' log growth and exposure (count x days) per lag, by the bound they end at;
    -- summed as decimals: a float sum depends on the order threads add it up, and the published
    -- tables must be byte-identical from run to run
    select
        step_bounds.bound,
        lag.lag_weeks,
        sum((
            steps.named_from * ln(steps.named_to / steps.named_from) / (steps.lag_to - steps.lag_from)
        )::decimal(38, 12)) as growth,
        sum((
            steps.named_from * (steps.next_vintage - steps.vintage) / (steps.lag_to - steps.lag_from)
        )::decimal(38, 12)) as exposure_days,
    from steps
    inner join step_bounds using (next_vintage)
    cross join range(steps.lag_from, steps.lag_to) as lag(lag_weeks)
    group by all
),

running as (
    -- running sums per lag in the order of the bounds: a cut-off's window is the difference of
    -- two of them (exact: decimals), so the cost is linear in vintages, not in vintages x window
    select
        bound,
        lag_weeks,
        sum(growth) over w as growth_to_date,
        sum(exposure_days) over w as exposure_to_date,
    from step_lags
    window w as (partition by lag_weeks order by bound rows unbounded preceding)
),

cutoff_lags as (
    select cutoffs.cutoff, lags.lag_weeks,
    from cutoffs
    cross join (select distinct lag_weeks, from step_lags) as lags
),

windowed as (
    select
        cutoff_lags.cutoff,
        cutoff_lags.lag_weeks,
        upto.growth_to_date - coalesce(before.growth_to_date, 0) as growth,
        coalesce(upto.exposure_to_date, 0) - coalesce(before.exposure_to_date, 0)
            as exposure_days,
    from cutoff_lags
    asof left join running as upto
        on upto.lag_weeks = cutoff_lags.lag_weeks and cutoff_lags.cutoff >= upto.bound
    asof left join running as before
        on before.lag_weeks = cutoff_lags.lag_weeks
        and cutoff_lags.cutoff - 13 * 7 - 1 >= before.bound
),

final as (
    select
        cutoff,
        lag_weeks,
        growth::double / exposure_days::double as log_growth_per_day,
    from windowed
    where exposure_days > 0
)

select * from final
