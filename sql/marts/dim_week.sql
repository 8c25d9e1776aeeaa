-- grain: one row per ISO week from 2022-W08 to the newest week any source covers
-- key: week_start
with days as (
    select * from int_calendar_days
),

weeks as (
    select distinct date_trunc('week', "date")::date as week_start from days
),

final as (
    select
        -- keys
        week_start,
        -- attributes
        isoyear(week_start)::integer as iso_year,
        week(week_start)::integer as iso_week,
        (week_start + 6)::date as week_end,
        -- war years run 24 Feb - 23 Feb; a week belongs to the war year of its Thursday
        greatest(1, war_year((week_start + 3)::date)) as war_year,
    from weeks
)

select * from final order by week_start
