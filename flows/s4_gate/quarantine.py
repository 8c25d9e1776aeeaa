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
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from flows.errors import TollError
from flows.warehouse.layout import Warehouse, as_warehouse
from flows.warehouse.raw_store import read_rejected, write_parquet_atomic

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
