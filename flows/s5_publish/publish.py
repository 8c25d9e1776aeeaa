"""Publish: write the marts into a new snapshot, then switch `current` to it atomically.

Nothing but the snapshot's metadata and lineage depends on the gate's outcome, so the rest (each
table as Parquet, CSV and in `toll.duckdb`, the licences, and what the caller adds: the lineage's
row counts, the report) is written while the gate runs: `draft` starts that on a thread, on a
cursor of the build's connection, into the snapshot's private folder. GX validates in Python
and leaves a core mostly idle: 1x <measured>. `publish` finishes a draft once the gate passed,
renames it into place and switches `current`; after a failed gate the caller discards it.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from flows.pipeline.crash_points import crash_point
from flows.s1_sources.catalogue import Source
from flows.s3_build.column_docs import load_table_docs
from flows.s3_build.models import Model
from flows.s5_publish.exports import comment_on, described, write_csv, write_licences
from flows.warehouse.layout import Warehouse
from flows.warehouse.snapshots import METADATA, begin_snapshot, finish_snapshot, point_current
from flows.warehouse.sql_names import quoted

# what a draft's caller adds to the folder: (cursor, folder, snapshot id)
Extra = Callable[[duckdb.DuckDBPyConnection, Path, str], None]


@dataclass
class Draft:
    """A snapshot being written in its private folder while the gate runs."""

    folder: Path
    stamp: str
    tables: dict[str, int] = field(default_factory=dict)  # published table -> rows
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def wait(self) -> dict[str, int]:
        """The written tables and their rows; what went wrong writing them is raised here."""
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error
        return self.tables

    def discard(self) -> None:
        """Remove the folder unless it was published (after a failed gate, any error)."""
        if self.thread is not None:
            self.thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)


def draft(
    con: duckdb.DuckDBPyConnection,
    warehouse: Warehouse,
    models: list[Model],
    catalogue: dict[str, Source],
    extra: Extra | None = None,
) -> Draft:
    """Start writing every published model (sorted by its keys) and `extra` into a new
    snapshot's private folder, on a thread; `publish` or `Draft.discard` it."""
    folder, stamp = begin_snapshot(warehouse)
    started = Draft(folder, stamp)
    cursor = con.cursor()  # a connection of its own to the same database

    def write() -> None:
        try:
            started.tables.update(_write_tables(cursor, folder, stamp, models, catalogue))
            if extra is not None:
                extra(cursor, folder, stamp)
        except BaseException as exc:  # noqa: BLE001 - raised where the run waits for it
            started.error = exc
        finally:
            cursor.close()

    started.thread = threading.Thread(target=write, name="toll-publish-draft", daemon=True)
    started.thread.start()
    return started


def _write_tables(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    stamp: str,
    models: list[Model],
    catalogue: dict[str, Source],
) -> dict[str, int]:
    """Each table goes out as Parquet (with its column docs), as a table of `toll.duckdb`
    (with them as comments) and as CSV, with the licences and citation of the snapshot."""
    docs = load_table_docs()
    tables = {}
    for model in (m for m in models if m.published):
        order = ", ".join(quoted(k, f"{model.name} key") for k in model.keys) or "all"
        table = con.sql(f"select * from {quoted(model.name)} order by {order}").to_arrow_table()
        # No statistics timestamps or writer-specific metadata: same rows, same bytes (the
        # column docs are fixed text).
        table = described(table, docs.get(model.name))
        pq.write_table(table, folder / f"{model.name}.parquet", compression="zstd")
        tables[model.name] = table.num_rows
    database = duckdb.connect(str(folder / "toll.duckdb"))
    try:
        for name in tables:
            database.execute(
                f"create table {quoted(name)} as select * from read_parquet(?)",
                [str(folder / f"{name}.parquet")],
            )
            comment_on(database, name, docs.get(name))
            write_csv(database, name, folder)
    finally:
        database.close()
    write_licences(folder, stamp, models, tables, catalogue)
    return tables


def publish(
    written: Draft,
    warehouse: Warehouse,
    metadata: dict,
    before_switch: Callable[[Path, str], None] | None = None,
) -> Path:
    """Finish a draft (its metadata, then `before_switch(folder, snapshot_id)`, which may add
    files while the snapshot is still private), rename it into place and make it current: once
    published, a snapshot is never modified."""
    tables = written.wait()
    full = {**metadata, "snapshot": written.stamp, "tables": tables}
    (written.folder / METADATA).write_text(json.dumps(full, indent=2, default=str))
    if before_switch is not None:
        before_switch(written.folder, written.stamp)
    final = finish_snapshot(warehouse, written.folder, written.stamp)
    crash_point("switch")
    point_current(warehouse, final)
    return final
