-- severity: error
-- check: nowcast_within_band
-- description: a week's nowcast lies inside its 80% band, the band never below the names
--     already published, and only weeks 5-25 weeks old at the vintage date have one (younger
--     weeks have too few names out, older ones keep their published count)
select * from {batch}
where nowcast_deaths is not null
    and (
        nowcast_deaths < nowcast_deaths_low
        or nowcast_deaths > nowcast_deaths_high
        or nowcast_deaths_low < named_deaths
        or (as_of - (week_start + 6)) // 7 not between 5 and 25
    )
