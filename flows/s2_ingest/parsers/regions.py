"""hflabs/region: Russian federal subjects with ISO 3166-2 codes and alias spellings."""

from __future__ import annotations

from flows.s2_ingest.parsing import Parsed, read_csv_strings, type_columns

# Codes such as kladr_id carry leading zeros: everything stays text.
SCHEMA = {
    "name": "str",
    "type": "str",
    "name_with_type": "str",
    "federal_district": "str",
    "kladr_id": "str",
    "okato": "str",
    "iso_code": "str",
    "geoname_name": "str",
}


def parse_regions(source: str, file: str, content: bytes) -> Parsed:
    frame = read_csv_strings(source, file, content, list(SCHEMA))
    return type_columns(frame, SCHEMA, not_null={"name", "iso_code"})
