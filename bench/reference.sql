-- The benchmark reference: the weekly and regional facts computed straight from the raw
-- source files with one hand-written DuckDB script (no Prefect, no GX, no raw layer, no
-- intermediate files). Run it with the source folder as the working directory; it leaves two
-- tables, ref_weekly_losses and ref_regional_losses, which the harness compares with the
-- published fct_weekly_losses and fct_regional_losses.
set enable_progress_bar = false;

-- every Mediazona vintage; its date is in the file name. last_data.csv is the latest content:
-- a vintage of its own (dated today) only when no dated file has the same bytes.
create temp table vintages as
select
    strptime(regexp_extract(filename, '(\d{4}-\d{2}-\d{2})_cumsum\.csv$', 1), '%Y-%m-%d')::date
        as as_of,
    "date",
    change,
from read_csv(
    'mediazona/vintages/*_cumsum.csv',
    filename = true, header = true,
    columns = {'date': 'DATE', 'change': 'BIGINT', 'total': 'BIGINT'}
);

create temp table latest_bytes as
select current_date as as_of, md5(content) as digest
from read_text('mediazona/last_data.csv')
where md5(content) not in (
    select md5(content) from read_text('mediazona/vintages/*_cumsum.csv')
);

insert into vintages
select (select as_of from latest_bytes), "date", change
from read_csv(
    'mediazona/last_data.csv', header = true,
    columns = {'date': 'DATE', 'change': 'BIGINT', 'total': 'BIGINT'}
)
where exists (select 1 from latest_bytes);

create temp table named as
with latest as (
    select * from vintages where as_of = (select max(as_of) from vintages)
)
select
    "date",
    change as named_deaths,
    -- trailing zero-padded days are not real zeros
    "date" > (select max("date") from latest where change <> 0) as provisional,
    as_of,
from latest;

create temp table claims as
select
    "date",
    personnel - coalesce(lag(personnel) over (order by "date"), 0) as claimed_personnel,
from read_json(
    'ua_general_staff/russia_losses_personnel.json',
    format = 'array', columns = {'date': 'DATE', 'personnel': 'BIGINT'}
);

create temp table area as
with rows_in_order as (
    select *, row_number() over () as line
    from read_csv(
        'economist/area_assessed_as_controlled_by_russia.csv', header = true,
        columns = {
            'date': 'DATE',
            'area_assessed_as_russia_controlled': 'DOUBLE',
            'change_in_area_assessed_as_russia_controlled': 'DOUBLE',
            'change_in_area_assessed_as_russia_controlled_in_past_7_days': 'DOUBLE',
            'change_in_area_assessed_as_russia_controlled_in_past_30_days': 'DOUBLE',
            'area_assessed_as_russia_controlled_percent': 'DOUBLE'
        }
    )
)
-- a repeated day keeps its later row
select "date", arg_max(area_assessed_as_russia_controlled, line) / 1e6 as occupied_km2
from rows_in_order
group by "date";

create temp table days as
select day::date as "date"
from range(
    date '2022-02-24',
    greatest(
        (select max("date") from named),
        (select max("date") from claims),
        (select max("date") from area)
    ) + interval 1 day,
    interval 1 day
) as t(day);

create temp table probate as
select
    make_date("Year", 1, 4) - (isodow(make_date("Year", 1, 4)) - 1)::integer
        + ((("Week" - 1) * 7))::integer as week_start,
    BmzNow as named_deaths_weekly_series,
    coalesce(ED, EDPrediction) as probate_estimate,
    coalesce(EDLow, EDPredictionLow) as probate_estimate_low,
    coalesce(EDHigh, EDPredictionHigh) as probate_estimate_high,
from read_csv('economist/meduza_2026_weekly.csv', header = true)
where "Week" between 1 and 53;

create temp table ref_weekly_losses as
with per_week as (
    select
        date_trunc('week', days."date")::date as week_start,
        sum(named.named_deaths)::bigint as named_deaths,
        count(named.named_deaths) as days_with_named_data,
        bool_or(coalesce(named.provisional, true)) as provisional,
        sum(claims.claimed_personnel)::bigint as claimed_personnel,
        arg_max(area.occupied_km2, days."date") filter (where area.occupied_km2 is not null)
            as occupied_km2,
    from days
    left join named on named."date" = days."date"
    left join claims on claims."date" = days."date"
    left join area on area."date" = days."date"
    group by 1
),

measured as (
    select
        week_start,
        isoyear(week_start)::integer as iso_year,
        week(week_start)::integer as iso_week,
        named_deaths,
        case when named_deaths is not null then
            sum(named_deaths) over (order by week_start)::bigint
        end as named_cumulative,
        -- as toll: complete weeks only (ended provisional_weeks = 112 weeks before the vintage)
        case when not provisional
            and week_start + 6 <= (select max(as_of) from vintages) - 7 * 112
        then
            avg(named_deaths) over (order by week_start rows between 3 preceding and current row)
        end as rolling_4w_avg,
        provisional,
        days_with_named_data,
        claimed_personnel,
        -- toll's occupied_km2 / km2_gained / deaths_per_km2 come from the DeepState map
        -- polygons, which need geometry (no spatial extension here): the reference checks the
        -- Economist series, which toll keeps beside them as *_alt
        occupied_km2 as occupied_km2_alt,
        occupied_km2 - lag(occupied_km2) over (order by week_start) as km2_gained_alt,
    from per_week
)

select
    measured.*,
    probate.probate_estimate,
    probate.probate_estimate_low,
    probate.probate_estimate_high,
    probate.named_deaths_weekly_series,
    (select max(as_of) from named) as as_of,
from measured
left join probate using (week_start)
order by week_start;

-- regions: the census table's English alias -> ISO code (it has Crimea and Sevastopol right)
create temp table census as
select
    regNameEng as alias,
    case when regNameISO like '__-%' then regNameISO else 'RU-' || regNameISO end as region_code,
    nMen16_615_2021 as men_16_61,
from read_csv('bessudnov/census2021_nMen16-615.csv', header = true);

create temp table ref_regional_losses as
with records as (
    select
        case
            when nullif(trim(region), '') is null then 'UNKNOWN'
            else coalesce(census.region_code, 'UNMAPPED')
        end as region_code,
        year(deathConfirmedDate)::integer as "year",
        coalesce(nullif(trim(unitType), ''), 'unknown') as unit_type,
    from read_csv(
        'bessudnov/dfFatalitiesAnonymised.csv', header = true,
        columns = {
            'id': 'BIGINT', 'first_name': 'VARCHAR', 'last_name': 'VARCHAR',
            'impliedEthnicity': 'VARCHAR', 'birthYear': 'DOUBLE',
            'deathConfirmedDate': 'DATE', 'unitType': 'VARCHAR', 'age': 'DOUBLE',
            'region': 'VARCHAR', 'source': 'VARCHAR'
        }
    ) as fatalities
    left join census on census.alias = trim(fatalities.region)
),

counted as (
    select region_code, "year", unit_type, count(*) as named_deaths,
    from records
    group by all
)

select
    counted.*,
    census.men_16_61,
    named_deaths * 100000.0 / census.men_16_61 as rate_per_100k,
    named_deaths * 1.0 / sum(named_deaths) over (partition by "year") as share_of_year,
from counted
left join census using (region_code)
order by region_code, "year" nulls last, unit_type;
