"""DuckDB connections: the build's scratch database in the warehouse, and plain ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

from flows.warehouse.layout import Warehouse


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set enable_progress_bar = false")
    return con


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
