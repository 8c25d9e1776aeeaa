-- severity: error
-- check: census_denominators_kept
-- description: every region of the previous snapshot is still there and keeps its census
--     denominator men_16_61 (source census_men; a region gone from dim_region: source
--     regions): a reference table that lost rows would publish NULL rates; an intended
--     correction needs `toll run --accept-shrink census_men` (or `regions`)
select * from (
    select
        case when now.region_code is null then 'regions' else 'census_men' end as source,
        prev.region_code,
        prev.men_16_61 as before,
        now.men_16_61 as now,
    from prev_dim_region as prev
    left join {batch} as now on now.region_code = prev.region_code
    where now.region_code is null or (prev.men_16_61 is not null and now.men_16_61 is null)
)
where not list_contains(string_split($accept_shrink, ','), source)
order by region_code
