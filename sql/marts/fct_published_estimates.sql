-- grain: one row per estimate published by a government, researcher or media outlet (context)
-- key: source_row
with estimates as (
    select * from stg_published_estimates
),

final as (
    select
        -- keys
        source_row,
        -- dates
        estimate_date,
        -- attributes
        losses_of,
        estimate_type,
        published_by,
        from_warring_party,
        -- measures
        estimate_low,
        estimate_high,
        estimate_point,
        -- the middle of a range, or the point figure when only that was published
        coalesce(estimate_point, (estimate_low + estimate_high) / 2.0, estimate_low, estimate_high)
            as estimate_central,
        source_url,
        -- vintage
        as_of,
    from estimates
)

select * from final order by source_row
