"""Quarantine: rows that failed parsing or a row-level expectation, kept per run with the reason.

Layout under the warehouse (one folder per run, one Parquet part per call, never rewritten):
  quarantine/<run_id>/<stage>-<source>-<n>.parquet

Every quarantined row says where it came from (source, raw file and its sha256, 1-based record
position in that file), what it failed (the expectation or parse rule, a readable reason) and
the offending value as text. Raw inputs are never touched: quarantine only points at them.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from flows.errors import TollError
from flows.warehouse.layout import Warehouse, as_warehouse
from flows.warehouse.raw_store import read_rejected, write_parquet_atomic
from flows.warehouse.sql_names import quoted, string_literal

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_NAME_PART = re.compile(r"[^A-Za-z0-9_.-]+")

SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String,
    "recorded_at": pl.Datetime("us", "UTC"),
    "stage": pl.String,  # parse | raw | staging | mart
    "source": pl.String,
    "file": pl.String,
    "file_sha256": pl.String,
    "row": pl.Int64,  # 1-based record position in the raw file (header not counted)
    "expectation": pl.String,  # GX expectation type, or the parse rule that failed
    "column": pl.String,
    "value": pl.String,  # the offending value, as text
    "reason": pl.String,
}


@dataclass(frozen=True)
class QuarantinedRow:
    """One bad row; `row` is its position in the raw file, `value` the offending value."""

    source: str
    reason: str
    expectation: str = "parse"
    file: str | None = None
    file_sha256: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None
    stage: str = "parse"


def new_run_id(now: datetime | None = None) -> str:
    """A sortable id for a run that has no other (tests, the CLI)."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def run_folder(warehouse: Warehouse | Path, run_id: str) -> Path:
    # no '/', and never '.' or '..' (the first character is a letter or digit): one folder name
    if not _RUN_ID.match(run_id):
        raise TollError(f"quarantine run id {run_id!r}: expected letters, digits, '_.:-' only")
    return as_warehouse(warehouse).quarantine_folder(run_id)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def to_frame(
    rows: Iterable[QuarantinedRow | Mapping] | pl.DataFrame, run_id: str, now: datetime
) -> pl.DataFrame:
    """Normalise rows (dataclasses, dicts or a frame with some of SCHEMA's columns) to SCHEMA."""
    if isinstance(rows, pl.DataFrame):
        frame = rows
    else:
        dicts = [asdict(r) if isinstance(r, QuarantinedRow) else dict(r) for r in rows]
        for d in dicts:
            d["value"] = _as_text(d.get("value"))
        frame = pl.DataFrame(dicts, infer_schema_length=None) if dicts else pl.DataFrame()
    if frame.height == 0:
        return pl.DataFrame(schema=SCHEMA)
    missing = [c for c in ("source", "reason") if c not in frame.columns]
    if missing:
        raise TollError(
            f"quarantine of run {run_id}: rows without column(s) {', '.join(missing)}; expected "
            "every row to name its source and the reason it was set aside"
        )
    defaults = {"run_id": run_id, "recorded_at": now, "stage": "parse", "expectation": "parse"}
    columns = []
    for name, dtype in SCHEMA.items():
        if name in frame.columns and name not in ("run_id", "recorded_at"):
            expr = pl.col(name)
            if name == "value" and frame.schema[name] != pl.String:
                expr = expr.cast(pl.String)
            columns.append(expr.cast(dtype).alias(name))
        else:
            columns.append(pl.lit(defaults.get(name), dtype).alias(name))
    return frame.select(columns)


def record(
    warehouse: Warehouse | Path,
    run_id: str,
    rows: Iterable[QuarantinedRow | Mapping] | pl.DataFrame,
    now: datetime | None = None,
) -> Path | None:
    """Append bad rows to the run's quarantine (one new Parquet part); None when there are none."""
    frame = to_frame(rows, run_id, now or datetime.now(UTC))
    if frame.height == 0:
        return None
    folder = run_folder(as_warehouse(warehouse), run_id)
    stage = frame["stage"][0] or "parse"
    source = frame["source"][0] if frame["source"].n_unique() == 1 else "mixed"
    name = _NAME_PART.sub("_", f"{stage}-{source}")[:80]
    path = folder / f"{name}-{uuid.uuid4().hex[:8]}.parquet"
    write_parquet_atomic(frame, path)
    return path


def record_rejected(
    warehouse: Warehouse,
    run_id: str,
    source: str,
    file: str,
    file_sha256: str,
    rejected: pl.DataFrame,
) -> Path | None:
    """Quarantine a parser's rejected rows (`source_row`, `reason`, `raw_row`, see parsing.py).

    The offending column is the one the (first) reason names; its value is taken from the raw
    row when that is a JSON object of the original fields, else the raw row itself.
    """
    if rejected.height == 0:
        return None
    items = []
    for r in rejected.iter_rows(named=True):
        reason = r.get("reason") or "rejected by the parser"
        column = reason.split(":", 1)[0].strip() if ":" in reason else None
        raw = r.get("raw_row")
        value: object = raw
        try:
            fields = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError:
            fields = None
        if isinstance(fields, dict) and column in fields:
            value = fields[column]
        items.append(
            QuarantinedRow(
                source=source,
                reason=reason,
                expectation="parse",
                file=file,
                file_sha256=file_sha256,
                row=r.get("source_row"),
                column=column,
                value=value,
                stage="parse",
            )
        )
    return record(warehouse, run_id, items)


def list_runs(warehouse: Warehouse | Path) -> list[str]:
    """Run ids with quarantined rows or failing rows of the gate's checks, oldest first."""
    warehouse = as_warehouse(warehouse)
    root = warehouse.quarantine_folder()
    if not root.is_dir():
        return []
    # run ids are flow run names (nightly-..., backfill-...): order by when they were written
    found = [
        p
        for p in root.iterdir()
        if p.is_dir() and (any(p.glob("*.parquet")) or warehouse.gate_failure_files(p.name))
    ]
    return [p.name for p in sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))]


def selected_runs(warehouse: Warehouse | Path, run_id: str | None = None) -> list[str]:
    """The runs `run_id` asks for: the latest (None), every run ("*"), or that one."""
    warehouse = as_warehouse(warehouse)
    runs = list_runs(warehouse)
    if run_id is None:
        return runs[-1:]
    if run_id == "*":
        return runs
    run_folder(warehouse, run_id)  # validates the id
    return [run_id] if run_id in runs else []


def read(
    warehouse: Warehouse | Path, run_id: str | None = None, source: str | None = None
) -> pl.DataFrame:
    """Quarantined rows of one run (default: the latest run), or of every run with `run_id="*"`."""
    warehouse = as_warehouse(warehouse)
    runs = selected_runs(warehouse, run_id)
    paths = [p for run in runs for p in warehouse.quarantine_parts(run)]
    if not paths:
        return pl.DataFrame(schema=SCHEMA)
    # Parts are written with SCHEMA; select it so older parts with fewer columns still read.
    frame = pl.concat([pl.read_parquet(p) for p in paths], how="diagonal_relaxed")
    frame = frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
        for c, t in SCHEMA.items()
    )
    if source is not None:
        frame = frame.filter(pl.col("source") == source)
    return frame.sort("run_id", "source", "file", "row", "expectation", nulls_last=True)


def summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Quarantined rows per run, source and expectation."""
    return (
        frame.group_by("run_id", "source", "stage", "expectation")
        .agg(pl.len().alias("rows"), pl.col("row").n_unique().alias("distinct_rows"))
        .sort("run_id", "source", "stage", "expectation")
    )


def record_new_rejects(warehouse: Warehouse, run_id: str, outcomes: Iterable) -> int:
    """Quarantine the parse rejects of the files this run parsed (ingest `SourceOutcome`s)."""
    by_sha = {(e.source, e.sha256): e for e in warehouse.manifest()}
    count = 0
    for outcome in outcomes:
        for item in outcome.new:
            entry = by_sha.get((outcome.source, item.sha256))
            if not item.rejected or entry is None or entry.rejected_path is None:
                continue
            rejected = read_rejected(warehouse, entry)
            record_rejected(warehouse, run_id, entry.source, entry.file, entry.sha256, rejected)
            count += rejected.height
    return count


# DuckDB types of SCHEMA, for parts written before a column existed (NULL in its place).
_SQL_TYPES = {pl.String: "varchar", pl.Int64: "bigint"}
ORDER = ("run_id", "source", "file", "row", "expectation")
# What DuckDB may hold while it reads and sorts a quarantine (it spills beyond): with the
# modules a command imports (110 MB), `toll quarantine` stays far under 300 MB for any count.
MEMORY_LIMIT = "128MB"
THREADS = 2


@contextmanager
def streamed(
    warehouse: Warehouse | Path,
    run_id: str | None = None,
    source: str | None = None,
    limit: int = 0,
) -> Iterator[Rows]:
    """Quarantined rows (as `read`), read and sorted by DuckDB, handed out as text in batches:
    no row becomes a Python object (100,003 rows read whole: 78 s and 4.8 GB)."""
    warehouse = as_warehouse(warehouse)
    runs = selected_runs(warehouse, run_id)
    paths = [str(p) for run in runs for p in warehouse.quarantine_parts(run)]
    with tempfile.TemporaryDirectory(prefix="toll-quarantine-") as spill:
        con = duckdb.connect()
        try:
            con.execute(f"set memory_limit = {string_literal(MEMORY_LIMIT)}")
            con.execute(f"set temp_directory = {string_literal(spill)}")
            con.execute(f"set threads = {THREADS:d}")
            con.execute("set TimeZone = 'UTC'")
            yield Rows(con, paths, source, limit)
        finally:
            con.close()


@dataclass
class Rows:
    """The selected quarantined rows, read by DuckDB from the Parquet parts."""

    con: duckdb.DuckDBPyConnection
    paths: list[str]
    source: str | None
    limit: int

    def _select(self, ordered: bool = False) -> tuple[str, list]:
        """SQL for the rows in SCHEMA's columns (`ordered`: in `read`'s order, up to `limit`)."""
        present: set[str] = set()
        if self.paths:
            present = {
                r[0]
                for r in self.con.execute(
                    "describe select * from read_parquet(?, union_by_name = true)", [self.paths]
                ).fetchall()
            }
        columns = ", ".join(
            quoted(c)
            if c in present
            else f"null::{_SQL_TYPES.get(t, 'timestamptz')} as {quoted(c)}"
            for c, t in SCHEMA.items()
        )
        if not self.paths:
            return f"select {columns} where false", []
        query = f"select {columns} from read_parquet(?, union_by_name = true)"
        params: list = [self.paths]
        if self.source is not None:
            query += " where source = ?"
            params.append(self.source)
        if ordered:
            order = ", ".join(f"{quoted(c)} nulls last" for c in ORDER)
            query = f"select * from ({query}) order by {order}"
            if self.limit:
                query += " limit ?"
                params.append(self.limit)
        return query, params

    def summary(self) -> list[tuple]:
        """(run_id, source, stage, expectation, rows), as `summary`."""
        query, params = self._select()
        return self.con.execute(
            f"select run_id, source, stage, expectation, count(*) "
            f"from ({query}) group by all order by all",
            params,
        ).fetchall()

    def _text(self, expression: str, size: int) -> Iterator[list[str]]:
        """One text per row (`expression` over the ordered rows), `size` rows at a time."""
        query, params = self._select(ordered=True)
        relation = self.con.sql(f"select {expression} from ({query})", params=params)
        for batch in relation.to_arrow_reader(size):
            yield batch.column(0).to_pylist()

    def json(self, size: int = 10_000) -> Iterator[list[str]]:
        """Each row as a JSON object (recorded_at as `YYYY-MM-DD HH:MM:SS.ffffff+00:00`)."""
        fields = ", ".join(
            f"{quoted(c)} := "
            + (
                f"strftime({quoted(c)}, '%Y-%m-%d %H:%M:%S.%f+00:00')"
                if c == "recorded_at"
                else quoted(c)
            )
            for c in SCHEMA
        )
        yield from self._text(f"to_json(struct_pack({fields}))::varchar", size)

    def table(self, columns: dict[str, str], cap: int, size: int = 10_000) -> Iterator[list[str]]:
        """The header, a rule, then each row as one line of `│ cell │ cell │` text; a column
        as wide as its widest cell up to `cap` (a longer cell is printed whole, past it).
        `columns`: each column's title and the SQL giving its cell text."""
        query, params = self._select(ordered=True)
        widest = ", ".join(f"max(length({cell}))" for cell in columns.values())
        found = self.con.execute(f"select {widest} from ({query})", params).fetchone()
        widths = [
            min(cap, max(len(title), width or 0))
            for title, width in zip(columns, found, strict=True)
        ]
        yield [
            "│ " + " │ ".join(t.ljust(w) for t, w in zip(columns, widths, strict=True)) + " │",
            "├─" + "─┼─".join("─" * w for w in widths) + "─┤",
        ]
        padded = " || ' │ ' || ".join(
            f"(case when length({cell}) >= {w:d} then {cell} else rpad({cell}, {w:d}, ' ') end)"
            for cell, w in zip(columns.values(), widths, strict=True)
        )
        yield from self._text(f"'│ ' || {padded} || ' │'", size)
