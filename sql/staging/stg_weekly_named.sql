-- grain: one row per ISO week of death (Economist/Meduza weekly series, 2026 edition)
-- key: week_start
with source as (
    select * from raw_weekly_named
),

renamed as (
    select
        -- keys
        iso_week_start("Year", "Week") as week_start,
        "Year" as iso_year,
        "Week" as iso_week,
        -- named deaths as known now and at the end of each year (reporting-lag vintages)
        BmzNow as named_deaths_now,
        Bmz2022 as named_deaths_known_end_2022,
        Bmz2023 as named_deaths_known_end_2023,
        Bmz2024 as named_deaths_known_end_2024,
        Bmz2025 as named_deaths_known_end_2025,
        -- probate-registry excess deaths (KIA), model prediction for the trailing half-year
        coalesce(ED, EDPrediction) as probate_estimate,
        coalesce(EDLow, EDPredictionLow) as probate_estimate_low,
        coalesce(EDHigh, EDPredictionHigh) as probate_estimate_high,
        ED is null and EDPrediction is not null as probate_is_prediction,
        EDAssembled as probate_assembled,
        EDAssembledLow as probate_assembled_low,
        EDAssembledHigh as probate_assembled_high,
        -- lineage
        as_of,
        file_sha256,
        source_row,
    from source
)

select * from renamed
