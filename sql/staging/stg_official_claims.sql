-- grain: one row per General Staff daily report; daily = difference of the cumulative claims
-- key: report_date
with source as (
    select * from raw_official_claims
),

renamed as (
    select
        "date" as report_date,
        "day" as war_day,
        personnel as claimed_personnel_cumulative,
        "personnel*" as personnel_qualifier,
        POW as pow_cumulative,
        file_sha256,
        source_row,
    from source
),

daily as (
    select
        *,
        -- the first report (2022-02-25) already covers 24-25 February
        claimed_personnel_cumulative
            - coalesce(lag(claimed_personnel_cumulative) over (order by report_date), 0)
            as claimed_personnel,
    from renamed
)

select * from daily
