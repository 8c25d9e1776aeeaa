-- grain: one row per step between consecutive Mediazona vintages (the later vintage's as_of)
-- key: as_of
-- Batches of old names (issue 16): per step, the names added per day between the two vintages'
-- effective dates (last day not zero-padded), the share for deaths at least 26 weeks old, and a
-- flag when a step adds names more than 3x as fast as the median of the steps before it. On the
-- real data (50 vintages) 5 of 49 steps are flagged; the 2025-11-22 step added 8,792 names in 6
-- days of effective date, 91% of them for deaths at least 26 weeks old: the uploads the nowcast
-- cannot foresee (its misses above the band).
with steps as (
    select * from int_named_vintage_steps
),

final as (
    select
        -- keys
        as_of,
        -- the step
        previous_as_of,
        effective_date,
        previous_effective_date,
        step_days,
        -- what it added
        names_added::bigint as names_added,
        names_per_day,
        old_names_added::bigint as old_names_added,
        old_share,
        -- against the usual
        usual_names_per_day,
        batch_flag,
    from steps
)

select * from final order by as_of
