-- grain: one row per cut-off (int_nowcast_cutoffs) x lag in whole weeks (0-25)
-- key: cutoff, lag_weeks
-- Second stage of the nowcast, learnt from past back-test outcomes known AT the cut-off (so the
-- back-test stays out of sample): every earlier cut-off's chain-ladder nowcast of a week, against
-- what the newest vintage known at the cut-off (at least 26 weeks later) says of that week. Per
-- lag (pooling lags within 2 weeks), the median of known / nowcast is the correction factor and
-- its 10th and 90th percentiles give the 80% interval. Until 26 weeks of outcomes exist (cut-offs
-- before mid-2024) there is nothing to learn from and no nowcast. Only the outcomes of the two
-- years before that count (the real vintages span less, so all of theirs do): with years of
-- daily vintages, all of them would make this work grow with the square of the cut-offs.
with chain_ladder as (
    select * from int_nowcast_chain_ladder
),

counts as (
    select * from int_named_vintage_counts where series = 'mediazona'
),

cutoffs as (
    select * from int_nowcast_cutoffs
),

outcomes as (
    -- an earlier cut-off's nowcast of a week and the count the cut-off's own vintage gives it
    select
        cutoffs.cutoff,
        chain_ladder.lag_weeks,
        known.named / chain_ladder.chain_ladder_deaths as known_over_nowcast,
    from cutoffs
    inner join counts as known on known.vintage = cutoffs.cutoff
    inner join chain_ladder
        on chain_ladder.week_start = known.week_start
        and chain_ladder.cutoff between cutoffs.cutoff - (26 + 104) * 7 and cutoffs.cutoff - 26 * 7
    where chain_ladder.chain_ladder_deaths > 0
),

pooled as (
    select outcomes.cutoff, lag.lag_weeks, outcomes.known_over_nowcast,
    from outcomes, range(0, 26) as lag(lag_weeks)
    where abs(outcomes.lag_weeks - lag.lag_weeks) <= 2
),

final as (
    select
        cutoff,
        lag_weeks,
        median(known_over_nowcast) as factor,
        quantile_cont(known_over_nowcast, 0.1) as factor_p10,
        quantile_cont(known_over_nowcast, 0.9) as factor_p90,
        count(*) as outcomes_seen,
    from pooled
    group by all
    having count(*) >= 5
)

select * from final
