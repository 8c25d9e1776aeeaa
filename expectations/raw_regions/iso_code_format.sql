-- severity: error
-- check: iso_code_format
-- description: ISO 3166-2 codes (RU-xx, UA-43 Crimea, UA-40 Sevastopol, KZ-BAY Baikonur):
--     the code is the key that dim_region, the records and the census share
-- column: iso_code
select * from {batch}
where not regexp_matches(iso_code, '^(RU-[A-Z][A-Z][A-Z]?|UA-4[03]|KZ-BAY)$')
