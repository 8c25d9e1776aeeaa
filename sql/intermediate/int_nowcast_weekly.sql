-- grain: one row per cut-off (int_nowcast_cutoffs) x recent ISO week of death
-- key: cutoff, week_start
-- Nowcast of a recent week = chain-ladder nowcast (int_nowcast_chain_ladder) x the correction
-- factor for its lag learnt from past back-test outcomes (int_nowcast_calibration), with the
-- factor's 10th-90th percentiles as an 80% interval; never below the names already published.
-- The newest weeks are left out: so few of their names are out that past outcomes scatter over
-- more than a factor of 3 (an interval of 1,000 to 25,000 deaths in a week tells nobody anything).
with chain_ladder as (
    select * from int_nowcast_chain_ladder
),

calibration as (
    select * from int_nowcast_calibration
),

final as (
    select
        chain_ladder.cutoff,
        chain_ladder.week_start,
        chain_ladder.lag_weeks,
        chain_ladder.published,
        chain_ladder.chain_ladder_deaths,
        calibration.factor,
        greatest(chain_ladder.published, chain_ladder.chain_ladder_deaths * calibration.factor)
            as nowcast_deaths,
        greatest(chain_ladder.published, chain_ladder.chain_ladder_deaths * calibration.factor_p10)
            as nowcast_deaths_low,
        greatest(chain_ladder.published, chain_ladder.chain_ladder_deaths * calibration.factor_p90)
            as nowcast_deaths_high,
    from chain_ladder
    inner join calibration using (cutoff, lag_weeks)
    where calibration.factor_p90 <= 3 * calibration.factor_p10
)

select * from final
