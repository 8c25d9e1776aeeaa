-- severity: error
-- check: region_code_format
-- description: region codes are ISO 3166-2 (RU-xx, UA-43 Crimea, UA-40 Sevastopol, KZ-BAY
--     Baikonur) or UNKNOWN: other spellings would not join with the records and the census
select * from {batch}
where region_code <> 'UNKNOWN'
    and not regexp_matches(region_code, '^(RU-[A-Z][A-Z][A-Z]?|UA-4[03]|KZ-BAY)$')
