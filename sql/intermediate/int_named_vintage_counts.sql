-- grain: one row per vintage series x vintage date x ISO week of death: named deaths known then
-- key: series, vintage, week_start
-- Two series of vintages: Mediazona's daily files (2023-12 on) and the year-end columns
-- Bmz2022..Bmz2025 of the weekly series (a different compilation, compared only with itself).
with mediazona as (
    select
        'mediazona' as series,
        as_of as vintage,
        date_trunc('week', death_date)::date as week_start,
        sum(named_deaths) as named,
    from stg_mediazona_daily
    group by all
),

year_end as (
    select
        'weekly_series' as series,
        cast(vintage_text as date) as vintage,
        week_start,
        named,
    from (
        unpivot (
            select
                week_start,
                named_deaths_known_end_2022 as "2022-12-31",
                named_deaths_known_end_2023 as "2023-12-31",
                named_deaths_known_end_2024 as "2024-12-31",
                named_deaths_known_end_2025 as "2025-12-31",
            from stg_weekly_named
        ) on columns(* exclude (week_start)) into name vintage_text value named
    )
)

select * from mediazona
union all
select * from year_end
