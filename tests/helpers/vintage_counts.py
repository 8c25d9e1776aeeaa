"""Synthetic Mediazona vintage counts for the nowcast models' tests."""

from __future__ import annotations

import duckdb
import pyarrow as pa


def load_vintage_counts(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Table `int_named_vintage_counts` from (series, vintage, week_start, named) rows."""
    con.execute(
        "create table int_named_vintage_counts "
        "(series varchar, vintage date, week_start date, named hugeint)"
    )
    columns = dict(
        zip(["series", "vintage", "week_start", "named"], zip(*rows, strict=True), strict=True)
    )
    con.from_arrow(pa.table(columns)).insert_into("int_named_vintage_counts")
