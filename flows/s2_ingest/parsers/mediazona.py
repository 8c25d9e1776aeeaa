"""Mediazona named deaths per day of death (`*_cumsum.csv`, `last_data.csv`)."""

from __future__ import annotations

import polars as pl

from flows.s2_ingest.parsing import ROW, Parsed, read_csv_strings, type_columns

SCHEMA = {"date": "date", "change": "int", "total": "int"}


def parse_cumsum(source: str, file: str, content: bytes) -> Parsed:
    """One row per day of death: `change` named deaths that day, `total` their running sum."""
    frame = read_csv_strings(source, file, content, list(SCHEMA))
    parsed = type_columns(frame, SCHEMA, not_null=set(SCHEMA))
    rows = parsed.rows.sort("date", ROW)
    # Trailing days are padded with change = 0 until the scrape date: not real zeros.
    last_real = rows.filter(pl.col("change") != 0)["date"].max()
    rows = rows.with_columns(
        (pl.col("date") > last_real if last_real is not None else pl.lit(True)).alias("padded")
    )
    return Parsed(rows=rows, rejected=parsed.rejected)
