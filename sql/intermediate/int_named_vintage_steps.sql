-- grain: one row per step between consecutive Mediazona vintages
-- key: as_of
-- Names now arrive in large uploads for deaths many months old (issue 16: one step added about
-- 8,800 names in 14 days, 90% of them for deaths at least 26 weeks old). A vintage's effective
-- date is its last day that is not zero-padded: the files pad their last days with zeros until
-- the scrape, so the effective date trails the file date by 2-16 days. Each step is flagged when
-- its names per day exceed 3x the median of the steps before it (earlier steps only, so a flag
-- never changes when later vintages arrive).
with daily as (
    select * from stg_mediazona_daily
),

vintages as (
    select
        as_of,
        max(death_date) filter (where not provisional) as effective_date,
        sum(named_deaths) as named_total,
        min(death_date) as first_day,
        max(death_date) as last_day,
        -- every day from its first to its last, once (days are unique within a vintage: the
        -- gate's key_unique stops a run otherwise)
        coalesce(count(death_date) = max(death_date) - min(death_date) + 1, false) as gapless,
    from daily
    group by as_of
),

steps as (
    select
        as_of,
        lag(as_of) over w as previous_as_of,
        effective_date,
        lag(effective_date) over w as previous_effective_date,
        named_total - lag(named_total) over w as names_added,
        first_day,
        last_day,
        coalesce(gapless and lag(gapless) over w, false) as gapless_pair,
    from vintages
    window w as (order by as_of)
),

old_deaths as (
    -- names added per day of death between the two vintages, for deaths >= 26 weeks old: for
    -- each day of the new vintage up to the bound, its count less the previous vintage's
    select as_of, sum(names) as old_names_added,
    from (
        -- two gapless vintages share one range of days: the new vintage's days up to the bound
        -- count +, the previous vintage's days in the new one's range up to the bound count -
        -- (each a join to the few steps, where joining every row to the previous vintage's
        -- took 1.6 s of 2.0 over 6.9 M rows of 5,000 daily vintages)
        select steps.as_of, coalesce(new.named_deaths, 0) as names,
        from steps
        inner join daily as new on new.as_of = steps.as_of
        where steps.gapless_pair and new.death_date <= steps.effective_date - 182
        union all
        select steps.as_of, -coalesce(old.named_deaths, 0),
        from steps
        inner join daily as old on old.as_of = steps.previous_as_of
        where steps.gapless_pair
            and old.death_date >= steps.first_day
            and old.death_date <= steps.last_day
            and old.death_date <= steps.effective_date - 182
        union all
        -- any other pair: each day of the new vintage joined to the previous vintage's
        select steps.as_of, coalesce(new.named_deaths, 0) - coalesce(old.named_deaths, 0),
        from steps
        inner join daily as new on new.as_of = steps.as_of
        left join (
            select * from daily
            where as_of in (select previous_as_of from steps where not gapless_pair)
        ) as old
            on old.as_of = steps.previous_as_of and old.death_date = new.death_date
        where not steps.gapless_pair and new.death_date <= steps.effective_date - 182
    )
    group by as_of
),

measured as (
    select
        steps.as_of,
        steps.previous_as_of,
        steps.effective_date,
        steps.previous_effective_date,
        steps.names_added,
        greatest(steps.effective_date - steps.previous_effective_date, 1) as step_days,
        steps.names_added / greatest(steps.effective_date - steps.previous_effective_date, 1)
            as names_per_day,
        coalesce(old_deaths.old_names_added, 0) as old_names_added,
        coalesce(old_deaths.old_names_added, 0) / nullif(steps.names_added, 0) as old_share,
    from steps
    left join old_deaths using (as_of)
    where steps.previous_as_of is not null
),

usual as (
    select
        *,
        median(names_per_day) over (
            order by as_of rows between unbounded preceding and 1 preceding
        ) as usual_names_per_day,
    from measured
),

final as (
    select
        *,
        coalesce(names_per_day > 3 * usual_names_per_day, false) as batch_flag,
    from usual
)

select * from final order by as_of
