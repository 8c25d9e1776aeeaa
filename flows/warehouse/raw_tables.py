"""A source of many small raw files read as one table, through a compacted copy kept as a cache.

Daily maps are thousands of one-row Parquet files: DuckDB opens every file on each query of a
view over them (≈ 0.3 ms a file, ≈ 0.5 s a query at 1,700 maps, and the models, gate and
lineage query the view dozens of times), and even one read of them all takes ≈ 0.5–1 s. So the
rows of such a source are read once into a table, and the rows of the files in use are kept in
one Parquet file, `cache/raw/<view>.parquet`, each row with the raw file it came from: a build
reads that file plus the raw files not in it yet (a nightly's one new map). Raw Parquet files
are never rewritten, so a path stands for the same rows for ever; deleting the cache only makes
the next build read every file again.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from flows.warehouse.layout import Warehouse
from flows.warehouse.raw_store import ManifestEntry, stored_together
from flows.warehouse.sql_names import identifier

MANY_FILES = 100
FEW_ROWS = 1_000_000
# At most this many Parquet files: a build reads them through a view, not a copied table.
# 100x, Mediazona's 6.9 M rows in one file: copying them into the work database took 0.95 s of
# the build, while a query of the view costs 0.005-0.013 s more than of the table, and the
# gate's queries run beside the column lineage. Over more files, a table (why: runner.py's
# `register_raw_tables`).
FEW_FILES = 10
ORIGIN = "_raw_parquet"  # the raw file a cached row came from (warehouse-relative)


def wanted(entries: list[ManifestEntry]) -> bool:
    """Many files, few rows in all: kept compacted in the cache (a large source is read whole).

    Not files stored together: they are one file already, read by `read_entries`."""
    return (
        len(entries) >= MANY_FILES
        and sum(e.rows for e in entries) <= FEW_ROWS
        and not any(stored_together(e) for e in entries)
    )


def few_files(entries: list[ManifestEntry]) -> bool:
    """Few enough Parquet files (counting a file stored together once) to read through a view."""
    return len({e.parquet_path for e in entries}) <= FEW_FILES


def create_table(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, name: str, entries: list[ManifestEntry]
) -> int:
    """Table `name` (a checked identifier) with the rows of these raw files; returns how many
    files were read besides the cache."""
    name = identifier(name, "raw table")
    cache = warehouse.cache_path("raw", f"{name}.parquet")
    in_use = [e.parquet_path for e in entries]
    cached = _cached(con, cache, f"{name}__cached")
    missing = [p for p in in_use if p not in cached]
    selects, parameters = [], []
    if cached:
        selects.append(
            f"select * from {name}__cached where {ORIGIN} in (select unnest(?::varchar[]))"
        )
        parameters.append(in_use)
    if missing:
        # the relation API takes the paths as a value: no path is pasted into SQL text
        con.read_parquet(
            [str(warehouse.path(p)) for p in missing], union_by_name=True, filename=True
        ).create_view(f"{name}__new", replace=True)
        start = len(str(warehouse.path("."))) + 2  # substr counts from 1; drops "<warehouse>/"
        selects.append(
            f"select * exclude (filename), substr(filename, {start}) as {ORIGIN} from {name}__new"
        )
    rows = f"{name}__rows"
    con.execute(
        f"create or replace temp table {rows} as {' union all by name '.join(selects)}",
        parameters,
    )
    con.execute(f"create table {name} as select * exclude ({ORIGIN}) from {rows}")
    if missing or not cached <= set(in_use):
        _write_cache(con, rows, cache)
    con.execute(f"drop table {rows}")
    con.execute(f"drop view if exists {name}__new")
    con.execute(f"drop view if exists {name}__cached")
    return len(missing)


def _cached(con: duckdb.DuckDBPyConnection, cache: Path, view: str) -> set[str]:
    """The raw files whose rows the cache holds (as view `view`); none if absent or broken."""
    view = identifier(view, "cache view")
    if not cache.exists():
        return set()
    try:
        con.read_parquet(str(cache)).create_view(view, replace=True)
        return {path for (path,) in con.execute(f"select distinct {ORIGIN} from {view}").fetchall()}
    except duckdb.Error:
        con.execute(f"drop view if exists {view}")
        return set()  # a broken cache: every file is read


def _write_cache(con: duckdb.DuckDBPyConnection, rows: str, cache: Path) -> None:
    tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        con.table(rows).write_parquet(str(tmp), compression="zstd")
        os.replace(tmp, cache)
    except (OSError, duckdb.Error):
        tmp.unlink(missing_ok=True)  # a read-only warehouse: the next build reads the files
