-- grain: one row per published estimate of soldiers' deaths or casualties (The Economist's list)
-- key: source_row
with source as (
    select * from raw_published_estimates
),

renamed as (
    select
        -- dates
        "date" as estimate_date,
        -- measures: a range, a point, or both
        estimate_low,
        estimate_high,
        estimate as estimate_point,
        -- attributes
        "type" as estimate_type,
        "source" as published_by,
        source_url,
        -- whose soldiers the figure counts
        country as losses_of,
        -- figures published by Russia's or Ukraine's state: the file's own flag, which misses
        -- a leaked Ukrainian government estimate, plus those publishers by name
        coalesce(lower(trim(from_warring_party)) = 'yes', false)
            or regexp_matches(
                lower("source"),
                'armed forces of ukraine|russian ministry of defen|president of ukraine'
                    || '|^ukrainian estimate'
            ) as from_warring_party,
        -- lineage
        as_of,
        file_sha256,
        source_row,
    from source
)

select * from renamed
