-- grain: one row per calendar year, per war year (24 Feb - 23 Feb) and one for the whole war
-- key: period_type, period
-- rows from stg_mediazona_daily: as_of = {as_of}
--     and death_date between {period_start} and {data_through}
-- rows from stg_official_claims: report_date between {period_start} and {data_through}
-- rows from stg_territory_area: area_date between {period_start} and {data_through}
-- rows from stg_weekly_named: week_start between {period_start} and {data_through}
-- Every figure of a row covers the same days: period_start .. data_through, where data_through
-- is the period's end or the Mediazona vintage date (as_of), whichever comes first.
with daily as (
    select * from fct_daily_losses
),

weekly as (
    select weekly.*, weeks.war_year
    from fct_weekly_losses as weekly
    inner join dim_week as weeks on weeks.week_start = weekly.week_start
),

cutoff as (
    select max(as_of) as as_of from daily
),

periods as (
    select
        'calendar' as period_type,
        y::varchar as period,
        greatest(make_date(y::integer, 1, 1), date '2022-02-24') as period_start,
        make_date(y::integer, 12, 31) as period_end,
        y::integer as calendar_year,
        null::integer as war_year,
    from cutoff, range(2022, year(cutoff.as_of) + 1) as t(y)
    union all
    select
        'war_year',
        (2021 + n)::varchar || '-' || right((2022 + n)::varchar, 2),
        make_date((2021 + n)::integer, 2, 24),
        make_date((2022 + n)::integer, 2, 23),
        null,
        n::integer,
    from cutoff, range(1, war_year(cutoff.as_of) + 1) as t(n)
    union all
    select 'whole_war', 'since 2022-02-24', date '2022-02-24', cutoff.as_of, null, null
    from cutoff
),

clipped as (
    select periods.*, least(periods.period_end, cutoff.as_of) as data_through,
    from periods, cutoff
),

days_in as (
    select clipped.period_type, clipped.period, daily.*
    from clipped
    inner join daily on daily."date" between clipped.period_start and clipped.data_through
),

named as (
    select
        period_type,
        period,
        sum(named_deaths)::bigint as named_deaths,
        sum(claimed_personnel)::bigint as claimed_personnel,
        bool_or(provisional) as has_provisional_days,
    from days_in
    group by all
),

deadliest_day as (
    select period_type, period, "date" as deadliest_day, named_deaths as deadliest_day_deaths,
    from days_in
    where named_deaths is not null
    qualify row_number() over (
        partition by period_type, period order by named_deaths desc, "date"
    ) = 1
),

weeks_in as (
    -- a calendar year holds its ISO weeks; a war year the weeks whose Thursday falls in it
    select clipped.period_type, clipped.period, weekly.*
    from clipped
    inner join weekly
        on weekly.week_start <= clipped.data_through
        and case clipped.period_type
            when 'calendar' then weekly.iso_year = clipped.calendar_year
            when 'war_year' then weekly.war_year = clipped.war_year
            else true
        end
),

deadliest_week as (
    select
        period_type,
        period,
        week_start as deadliest_week_start,
        iso_year::varchar || '-W' || lpad(iso_week::varchar, 2, '0') as deadliest_iso_week,
        named_deaths as deadliest_week_deaths,
    from weeks_in
    where named_deaths is not null
    qualify row_number() over (
        partition by period_type, period order by named_deaths desc, week_start
    ) = 1
),

probate as (
    -- sums of weekly bounds: wider than a true 95% interval of the sum (errors assumed to move
    -- together), so read them as an outer band
    select
        period_type,
        period,
        sum(probate_estimate::decimal(38, 6))::double as probate_estimate,
        sum(probate_estimate_low::decimal(38, 6))::double as probate_estimate_low,
        sum(probate_estimate_high::decimal(38, 6))::double as probate_estimate_high,
        count(probate_estimate) as probate_weeks,
    from weeks_in
    group by all
),

area_points as (
    -- the DeepState maps (occupied_km2) and the Economist's series (occupied_km2_alt)
    unpivot (select "date", occupied_km2, occupied_km2_alt from daily)
    on occupied_km2, occupied_km2_alt into name series value km2
),

area as (
    -- area held at the end of the period minus the area held just before it began (or on its
    -- first day when nothing earlier is known); NULL when either end has no measurement
    select
        clipped.period_type,
        clipped.period,
        series.series,
        (select arg_max(a.km2, a."date") from area_points as a
            where a.series = series.series
                and a."date" <= clipped.data_through
                and a."date" >= clipped.period_start) as km2_end,
        coalesce(
            (select arg_max(a.km2, a."date") from area_points as a
                where a.series = series.series and a."date" < clipped.period_start),
            (select a.km2 from area_points as a
                where a.series = series.series and a."date" = clipped.period_start)
        ) as km2_start,
    from clipped, (values ('occupied_km2'), ('occupied_km2_alt')) as series(series)
),

gains as (
    select
        period_type,
        period,
        any_value(km2_end - km2_start) filter (where series = 'occupied_km2') as km2_gained,
        any_value(km2_end - km2_start) filter (where series = 'occupied_km2_alt')
            as km2_gained_alt,
    from area
    group by all
),

measured as (
    select
        -- keys
        clipped.period_type,
        clipped.period,
        -- dates
        clipped.period_start,
        clipped.period_end,
        clipped.data_through,
        period_state(clipped.period_end, (select as_of from cutoff)) as period_state,
        period_state(clipped.period_end, (select as_of from cutoff)) = 'complete'
            and not coalesce(named.has_provisional_days, true) as is_complete,
        -- named deaths (latest Mediazona vintage, by date of death)
        named.named_deaths,
        -- coverage-based range: named lists hold coverage_low .. coverage_high of real deaths
        round(named.named_deaths / getvariable('coverage_high'))::bigint as estimate_low,
        round(named.named_deaths / getvariable('coverage_low'))::bigint as estimate_high,
        deadliest_day.deadliest_day,
        deadliest_day.deadliest_day_deaths,
        deadliest_week.deadliest_week_start,
        deadliest_week.deadliest_iso_week,
        deadliest_week.deadliest_week_deaths,
        -- territory: from the DeepState maps; the Economist's series beside it
        gains.km2_gained,
        gains.km2_gained_alt,
        -- independent estimate: probate-registry excess deaths (The Economist / Meduza)
        probate.probate_estimate,
        probate.probate_estimate_low,
        probate.probate_estimate_high,
        probate.probate_weeks,
        -- official claims (Ukrainian General Staff, killed and wounded)
        named.claimed_personnel,
    from clipped
    left join named using (period_type, period)
    left join deadliest_day using (period_type, period)
    left join deadliest_week using (period_type, period)
    left join probate using (period_type, period)
    left join gains using (period_type, period)
),

final as (
    select
        measured.* exclude (claimed_personnel),
        named_deaths * 1.0 / (
            select m.named_deaths from measured as m
            where m.period_type = 'war_year' and m.period = '2022-23'
        ) as ratio_to_first_war_year,
        case when km2_gained > 0 then named_deaths / km2_gained end as deaths_per_km2,
        case when km2_gained > 0
            then (estimate_low + estimate_high) / 2.0 / km2_gained
        end as estimate_mid_per_km2,
        -- Donetsk/Luhansk "republic" forces: beside the whole-war total, never in named counts;
        -- totals rounded to the nearest hundred as the reference article does
        case when period_type = 'whole_war'
            then getvariable('dnr_lnr_addon_low')::bigint
        end as dnr_lnr_addon_low,
        case when period_type = 'whole_war'
            then getvariable('dnr_lnr_addon_high')::bigint
        end as dnr_lnr_addon_high,
        case when period_type = 'whole_war'
            then round(estimate_low + getvariable('dnr_lnr_addon_low'), -2)::bigint
        end as total_with_addon_low,
        case when period_type = 'whole_war'
            then round(estimate_high + getvariable('dnr_lnr_addon_high'), -2)::bigint
        end as total_with_addon_high,
        claimed_personnel,
        (select as_of from cutoff) as as_of,
    from measured
)

select * from final
order by
    case period_type when 'calendar' then 1 when 'war_year' then 2 else 3 end,
    period_start
