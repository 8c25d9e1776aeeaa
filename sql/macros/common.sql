-- A region spelling reduced to what tells regions apart: case, spaces, dots, hyphens,
-- slashes and brackets differ between sources ("St.Petersburg", "Саха /Якутия/").
create or replace macro alias_key(name) as
    nullif(lower(regexp_replace(trim(name), '[\s\.\-/()''’]+', '', 'g')), '');

-- ISO 3166-2 from Bessudnov's codes, which drop the RU- prefix but keep UA-43 / UA-40.
create or replace macro iso_region_code(code) as
    case when trim(code) like '__-%' then trim(code) else 'RU-' || trim(code) end;

-- Monday of an ISO year-week.
create or replace macro iso_week_start(iso_year, iso_week) as
    (make_date(iso_year, 1, 4) - (isodow(make_date(iso_year, 1, 4)) - 1)::integer
        + ((iso_week - 1) * 7)::integer);

-- War year N runs from 24 February of 2021 + N to 23 February of the next year.
create or replace macro war_year(day) as
    (year(day) - 2022 + case when strftime(day, '%m-%d') >= '02-24' then 1 else 0 end)::integer;

-- Whether a period's named count can still grow: 'partial' when it ends after the vintage
-- (as_of), 'provisional' while it ended less than provisional_weeks before it, else
-- 'complete'. The setting's default (112 weeks) is measured on the 50 real vintages: a week's
-- count still grows by a median 64% over the next 26 weeks at a lag of 24-27 weeks, 23% at
-- 52-55, 8.0% at 96-103, 5.6% at 104-111 and 4.2% at 112-119 weeks (batches of old names).
create or replace macro period_state(period_end, as_of) as
    case
        when period_end > as_of then 'partial'
        when period_end > as_of - (7 * getvariable('provisional_weeks'))::integer
            then 'provisional'
        else 'complete'
    end;
