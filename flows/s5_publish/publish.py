"""Publish: write the marts into a new snapshot, then switch `current` to it atomically."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from flows.pipeline.crash_points import crash_point
from flows.s1_sources.catalogue import Source, load_catalogue
from flows.s3_build.column_docs import load_table_docs
from flows.s3_build.models import Model
from flows.s5_publish.exports import comment_on, described, write_csv, write_licences
from flows.warehouse.layout import Warehouse
from flows.warehouse.snapshots import METADATA, point_current, write_snapshot
from flows.warehouse.sql_names import quoted


def publish(
    con: duckdb.DuckDBPyConnection,
    warehouse: Warehouse,
    models: list[Model],
    metadata: dict,
    before_switch: Callable[[Path, str], None] | None = None,
    catalogue: dict[str, Source] | None = None,
) -> Path:
    """Write every published model (sorted by its keys) and make the snapshot current.

    Each table goes out as Parquet (with its column docs), as a table of `toll.duckdb` (with
    them as comments) and as CSV, with the licences and citation of the snapshot.
    `before_switch(folder, snapshot_id)` may add files (the report) while the snapshot is still
    private: once published, a snapshot is never modified.
    """
    docs = load_table_docs()
    catalogue = load_catalogue() if catalogue is None else catalogue

    def fill(folder: Path, stamp: str) -> None:
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
        full = {**metadata, "snapshot": stamp, "tables": tables}
        (folder / METADATA).write_text(json.dumps(full, indent=2, default=str))
        if before_switch is not None:
            before_switch(folder, stamp)

    final = write_snapshot(warehouse, fill)
    crash_point("switch")
    point_current(warehouse, final)
    return final
