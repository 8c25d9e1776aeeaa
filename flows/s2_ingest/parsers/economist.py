"""The Economist's files: weekly named deaths with vintages, and daily area controlled."""

from __future__ import annotations

import polars as pl

from flows.s2_ingest.parsing import Parsed, read_csv_strings, type_columns

WEEKLY_SCHEMA = {
    "Year": "int",
    "Week": "int",
    "BmzNow": "int",
    "Bmz2022": "int",
    "Bmz2023": "int",
    "Bmz2024": "int",
    "Bmz2025": "int",
    "ED": "float",
    "EDHigh": "float",
    "EDLow": "float",
    "EDPrediction": "float",
    "EDPredictionHigh": "float",
    "EDPredictionLow": "float",
    "EDAssembled": "float",
    "EDAssembledHigh": "float",
    "EDAssembledLow": "float",
}

AREA_SCHEMA = {
    "date": "date",
    "area_assessed_as_russia_controlled": "float",
    "area_assessed_as_russia_controlled_percent": "float",
}


def parse_weekly_2026(source: str, file: str, content: bytes) -> Parsed:
    """`meduza_2026_weekly.csv`: one row per ISO week of death (`Year`, `Week`)."""
    frame = read_csv_strings(source, file, content, list(WEEKLY_SCHEMA))
    parsed = type_columns(frame, WEEKLY_SCHEMA, not_null={"Year", "Week", "BmzNow"})
    out_of_range = parsed.rows.filter(~pl.col("Week").is_between(1, 53))
    if out_of_range.height:
        rejected = out_of_range.select(
            "source_row",
            pl.format("Week: expected 1..53, got {}", pl.col("Week")).alias("reason"),
            pl.format("{}-W{}", pl.col("Year"), pl.col("Week")).alias("raw_row"),
        )
        return Parsed(
            rows=parsed.rows.filter(pl.col("Week").is_between(1, 53)),
            rejected=pl.concat([parsed.rejected, rejected]),
        )
    return parsed


def parse_area(source: str, file: str, content: bytes) -> Parsed:
    """Daily area assessed as Russia-controlled, in square metres."""
    frame = read_csv_strings(source, file, content, list(AREA_SCHEMA))
    return type_columns(frame, AREA_SCHEMA, not_null={"date", "area_assessed_as_russia_controlled"})
