"""Bessudnov (2023): named fatality records, census denominators, region names."""

from __future__ import annotations

from flows.s2_ingest.parsing import Parsed, read_csv_strings, type_columns

RECORD_SCHEMA = {
    "id": "int",
    "birthYear": "intlike",
    "deathConfirmedDate": "date",
    "unitType": "str",
    "age": "intlike",
    "region": "str",
    "source": "str",
}
CENSUS_SCHEMA = {
    "region": "str",
    "nMen16_615_2021": "int",
    "regNameEng": "str",
    "regNameISO": "str",
}
REGNAMES_SCHEMA = {
    "g_00_4_regterson": "int",
    "regName": "str",
    "regNameEng": "str",
    "regNameISO": "str",
}


# Ages and birth years no serviceman can have (the real ones are 18-72 and 1951-2004); merely
# unusual ages are the gate's warning, these are errors in the row.
RECORD_BOUNDS = {"age": (14, 100), "birthYear": (1900, 2010)}


def parse_records(source: str, file: str, content: bytes) -> Parsed:
    """One row per named soldier; the `source` cell holds several links across lines."""
    frame = read_csv_strings(source, file, content, list(RECORD_SCHEMA))
    # Names were anonymised to the literal "removed": nothing to keep.
    return type_columns(frame, RECORD_SCHEMA, not_null={"id"}, bounds=RECORD_BOUNDS)


def parse_census(source: str, file: str, content: bytes) -> Parsed:
    frame = read_csv_strings(source, file, content, list(CENSUS_SCHEMA))
    return type_columns(frame, CENSUS_SCHEMA, not_null=set(CENSUS_SCHEMA))


def parse_region_names(source: str, file: str, content: bytes) -> Parsed:
    frame = read_csv_strings(source, file, content, list(REGNAMES_SCHEMA))
    return type_columns(frame, REGNAMES_SCHEMA, not_null={"regNameEng", "regNameISO"})
