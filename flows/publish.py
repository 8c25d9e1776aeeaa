"""Publish: write marts to a new snapshot directory, then switch `current` to it atomically."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from flows.crash_points import crash_point
from flows.errors import TollError
from flows.models import Model
from flows.sql_names import quoted

SNAPSHOTS = "snapshots"
CURRENT = "current"
METADATA = "_snapshot.json"


@contextmanager
def warehouse_lock(warehouse: Path) -> Iterator[None]:
    """One writer per warehouse; a second run ends at once with a clear message."""
    warehouse.mkdir(parents=True, exist_ok=True)
    handle = open(warehouse / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise TollError(
            f"another toll run is writing {warehouse}; wait for it to finish and run again"
        ) from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def current_snapshot(warehouse: Path) -> Path | None:
    link = warehouse / CURRENT
    return link.resolve() if link.is_symlink() else None


def publish(
    con: duckdb.DuckDBPyConnection,
    warehouse: Path,
    models: list[Model],
    metadata: dict,
    before_switch: Callable[[Path, str], None] | None = None,
) -> Path:
    """Write every published model (sorted by its keys) and make the snapshot current.

    `before_switch(folder, snapshot_id)` may add files (the report) while the snapshot is still
    private: once published, a snapshot is never modified.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    root = warehouse / SNAPSHOTS
    staging = root / f".tmp-{stamp}"
    final = root / stamp
    staging.mkdir(parents=True)
    try:
        tables = {}
        for model in (m for m in models if m.published):
            order = ", ".join(quoted(k, f"{model.name} key") for k in model.keys) or "all"
            table = con.sql(f"select * from {quoted(model.name)} order by {order}").to_arrow_table()
            # No statistics timestamps or writer-specific metadata: same rows, same bytes.
            pq.write_table(table, staging / f"{model.name}.parquet", compression="zstd")
            tables[model.name] = table.num_rows
        database = duckdb.connect(str(staging / "toll.duckdb"))
        try:
            for name in tables:
                database.execute(
                    f"create table {quoted(name)} as select * from read_parquet(?)",
                    [str(staging / f"{name}.parquet")],
                )
        finally:
            database.close()
        metadata = {**metadata, "snapshot": stamp, "tables": tables}
        (staging / METADATA).write_text(json.dumps(metadata, indent=2, default=str))
        if before_switch is not None:
            before_switch(staging, stamp)
        crash_point("publish")
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    crash_point("switch")
    point_current(warehouse, final)
    return final


def point_current(warehouse: Path, snapshot: Path) -> None:
    """Switch `current` to `snapshot` in one step: readers see the old or the new, never none."""
    # A symlink swap is atomic; renaming over a non-empty directory is not possible.
    tmp = warehouse / f".{CURRENT}.tmp-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(snapshot.relative_to(warehouse))
    os.replace(tmp, warehouse / CURRENT)


def list_snapshots(warehouse: Path) -> list[dict]:
    root = warehouse / SNAPSHOTS
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        meta_path = folder / METADATA
        if meta_path.exists():
            found.append(json.loads(meta_path.read_text()))
    return found
