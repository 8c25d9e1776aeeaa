"""Build the models in a work database from the raw layer's Parquet files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from flows.models import Model, discover, run_macros, run_models
from flows.raw_store import entries_in_use
from flows.sources import Source


def connect(path: Path | str = ":memory:") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("set enable_progress_bar = false")
    return con


def register_raw_views(
    con: duckdb.DuckDBPyConnection,
    warehouse: Path,
    catalogue: dict[str, Source],
    as_of: date | None = None,
) -> dict[str, int]:
    """One view `raw_<source>` over the Parquet files in use; returns files per source."""
    used: dict[str, int] = {}
    for source in catalogue.values():
        entries = entries_in_use(warehouse, source, as_of)
        if not entries:
            when = f" as of {as_of}" if as_of else " yet"
            raise ValueError(f"source '{source.name}' has no raw data{when}: fetch it first")
        # Views cannot take parameters: paths are quoted as SQL literals, and the view name
        # comes from the catalogue, where it is checked to be a plain identifier.
        paths = ", ".join(_literal(str(warehouse / e.parquet_path)) for e in entries)
        con.execute(
            f'create or replace view "raw_{source.name}" as '
            f"select * from read_parquet([{paths}], union_by_name = true)"
        )
        used[source.name] = len(entries)
    return used


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_models(
    con: duckdb.DuckDBPyConnection,
    warehouse: Path,
    catalogue: dict[str, Source],
    on_model=None,
    as_of: date | None = None,
    variables: dict[str, object] | None = None,
) -> list[Model]:
    """Build every model; `variables` become DuckDB variables the SQL reads with getvariable()."""
    for name, value in (variables or {}).items():
        if not name.isidentifier():
            raise ValueError(f"model variable {name!r}: expected a plain identifier")
        con.execute(f"set variable {name} = ?", [value])
    register_raw_views(con, warehouse, catalogue, as_of)
    run_macros(con)
    return run_models(con, discover(), on_model=on_model)
