"""Ukrainian General Staff daily reports: cumulative claimed personnel losses (JSON array)."""

from __future__ import annotations

import json

from flows.errors import SourceFormatError
from flows.s2_ingest.parsing import Parsed, decode_text, records_to_strings, type_columns

# POW was only reported until 2022-04-27.
SCHEMA = {"date": "date", "day": "int", "personnel": "int", "personnel*": "str", "POW": "int"}


def parse_personnel(source: str, file: str, content: bytes) -> Parsed:
    """One row per daily report; values are cumulative since 2022-02-24."""
    try:
        records = json.loads(decode_text(source, file, content))
    except json.JSONDecodeError as exc:
        raise SourceFormatError(
            source, file, f"line {exc.lineno}, column {exc.colno}", f"valid JSON ({exc.msg})"
        ) from exc
    frame = records_to_strings(source, file, records, list(SCHEMA), optional={"POW"})
    return type_columns(frame, SCHEMA, not_null={"date", "personnel"})
