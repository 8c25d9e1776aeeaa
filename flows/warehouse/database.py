"""DuckDB connections: the build's scratch database in the warehouse, and plain ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

from flows.warehouse.layout import Warehouse
from flows.warehouse.sql_names import identifier


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set enable_progress_bar = false")
    return con


def second_connection(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to `con`'s database, for a second thread, with `con`'s variables.

    A cursor sees the same tables and views but not `set variable`: a view reading one with
    getvariable() would give NULL there, silently."""
    cursor = con.cursor()
    cursor.execute("set enable_progress_bar = false")
    for (name,) in con.execute("select name from duckdb_variables()").fetchall():
        (value,) = con.execute("select getvariable(?)", [name]).fetchall()[0]
        cursor.execute(f"set variable {identifier(name)} = ?", [value])
    return cursor


@contextmanager
def work_database(warehouse: Warehouse, started: datetime) -> Iterator[duckdb.DuckDBPyConnection]:
    """A scratch DuckDB file for one build, removed afterwards whatever happens.

    On disk rather than in memory so a large build can spill; only the published snapshot is
    kept, so a failed run leaves nothing behind (and `recovery.sweep` removes what a crash left).
    """
    work = warehouse.work_folder()
    work.mkdir(parents=True, exist_ok=True)
    database = work / f"build-{started.strftime('%Y%m%dT%H%M%S%fZ')}.duckdb"
    con = connect(database)
    try:
        yield con
    finally:
        con.close()
        database.unlink(missing_ok=True)
        database.with_name(database.name + ".wal").unlink(missing_ok=True)
        if work.is_dir() and not any(work.iterdir()):
            work.rmdir()
