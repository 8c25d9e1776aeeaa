"""Build the models in a work database from the raw layer's Parquet files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from flows.errors import TollError
from flows.s1_sources.catalogue import Source
from flows.s3_build.models import Model, discover, run_macros, run_models
from flows.warehouse import raw_tables
from flows.warehouse.layout import Warehouse, as_warehouse
from flows.warehouse.raw_store import entries_in_use, read_entries
from flows.warehouse.sql_names import identifier


def register_raw_tables(
    con: duckdb.DuckDBPyConnection,
    warehouse: Warehouse | Path,
    catalogue: dict[str, Source],
    as_of: date | None = None,
) -> dict[str, int]:
    """One relation `raw_<source>` of the Parquet files in use; returns files per source.

    A view over a few files (`raw_tables.FEW_FILES`), else a table: the staging models and about
    70 raw-layer expectations each read it, and a view would open every file again each time
    (100x, 5,000 vintage files: the gate took 42 s on views, 24 s on tables, for 7 s spent
    loading them once)."""
    warehouse = as_warehouse(warehouse)
    used: dict[str, int] = {}
    for source in catalogue.values():
        entries = entries_in_use(warehouse, source, as_of)
        if not entries:
            when = f" as of {as_of}" if as_of else " yet"
            raise TollError(f"source '{source.name}' has no raw data{when}: fetch it first")
        name = identifier(f"raw_{source.name}", "raw table")
        _drop(con, name)
        if raw_tables.wanted(entries):
            raw_tables.create_table(con, warehouse, name, entries)  # thousands of maps
        elif raw_tables.few_files(entries):
            read_entries(con, warehouse, entries).create_view(name)
        else:
            read_entries(con, warehouse, entries).create(name)
        used[source.name] = len(entries)
    return used


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop `name` whether a view or a table (a rebuild with another as_of may switch it)."""
    name = identifier(name, "raw table")
    found = con.execute(
        "select table_type from information_schema.tables"
        " where table_name = ? and table_catalog = current_database()"
        " and table_schema = current_schema()",
        [name],
    ).fetchone()
    if found is not None:
        con.execute(f"drop {'view' if found[0] == 'VIEW' else 'table'} {name}")


def build_models(
    con: duckdb.DuckDBPyConnection,
    warehouse: Warehouse | Path,
    catalogue: dict[str, Source],
    on_model=None,
    as_of: date | None = None,
    variables: dict[str, object] | None = None,
) -> list[Model]:
    """Build every model; `variables` become DuckDB variables the SQL reads with getvariable()."""
    for name, value in (variables or {}).items():
        con.execute(f"set variable {identifier(name, 'model variable')} = ?", [value])
    register_raw_tables(con, warehouse, catalogue, as_of)
    run_macros(con)
    return run_models(con, discover(), on_model=on_model)
