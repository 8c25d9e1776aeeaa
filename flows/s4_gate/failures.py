"""Where a failed check's rows came from: the source, the raw file and its sha256.

A check selects its failing rows (`GateResult.selects`); this module names their origin for the
gate's message, so the operator need not dig:
  - rows that carry `file_sha256` (raw and staging tables): the files they were read from;
  - rows that carry `source` (the drift checks, the quarantine share): the files of that source
    that changed since the previous snapshot (else every file it reads);
  - otherwise the suite's `meta.source`, the same way.
Mart checks with none of these (totals, reconciliations) name no file.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from flows.s1_sources.catalogue import Source
from flows.s4_gate.suites import Check, GateResult, check_key
from flows.warehouse.layout import Warehouse
from flows.warehouse.raw_store import ManifestEntry, entries_in_use
from flows.warehouse.sql_names import string_literal

# Files named per failure: enough to act on, short enough for one line.
SHOWN_FILES = 3
_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class FailureFile:
    """Every row one failed check found, as written beside the run's quarantine."""

    check: str  # <suite>.<check>
    severity: str
    rows: int
    path: Path


@dataclass
class Origins:
    """The raw files of this build and of the previous snapshot, to name a failure's origin."""

    by_sha: dict[str, ManifestEntry]
    in_use: dict[str, list[ManifestEntry]]  # source -> the raw files this build reads
    before: dict[str, list[dict]]  # source -> files of the previous snapshot (file, sha256)
    previous: str | None  # the previous snapshot's id
    stored: dict[tuple[str, str], ManifestEntry] = field(default_factory=dict)  # (source, sha)

    @classmethod
    def of(
        cls,
        warehouse: Warehouse,
        catalogue: dict[str, Source],
        previous: Path | None,
        as_of: object = None,
        in_use: dict[str, list[ManifestEntry]] | None = None,
    ) -> Origins:
        if in_use is None:
            in_use = {name: entries_in_use(warehouse, s, as_of) for name, s in catalogue.items()}
        manifest = warehouse.manifest()
        by_sha = {e.sha256: e for e in manifest}
        stored = {(e.source, e.sha256): e for e in manifest}
        before: dict[str, list[dict]] = {}
        if previous is not None:
            from flows.warehouse.snapshots import METADATA

            try:
                meta = json.loads((previous / METADATA).read_text(encoding="utf-8"))
                before = meta.get("sources") or {}
            except (OSError, ValueError):
                before = {}
        name = previous.name if previous is not None else None
        return cls(by_sha, in_use, before, name, stored)

    def rows_before(self, name: str) -> tuple[int, int] | None:
        """Files and rows (parsed or quarantined) of source `name` the previous snapshot was
        built from (None: no previous snapshot, or it did not read the source)."""
        files = self.before.get(name)
        if not files:
            return None
        stored = self.stored or {(e.source, e.sha256): e for e in self.by_sha.values()}
        known = [stored.get((name, f.get("sha256"))) for f in files]
        counted = [e.rows + e.rejected for e in known if e is not None]
        return len(counted), sum(counted)

    def source(self, name: str) -> str:
        """`source S, file F (sha256 H, ...)`: the files of S that changed since the previous
        snapshot, newest first (every file it reads when none changed)."""
        now = self.in_use.get(name)
        if not now:
            return f"source {name}"
        before = self.before.get(name, [])
        known = {f.get("sha256") for f in before}
        changed = [e for e in now if e.sha256 not in known]
        shown = list(reversed(changed or now))
        files = []
        for entry in shown[:SHOWN_FILES]:
            note = ""
            if changed and self.previous:
                was = [f["sha256"] for f in before if f.get("file") == entry.file]
                note = f", new since snapshot {self.previous}"
                note += f" where it had sha256 {was[-1]}" if was else ""
            files.append(f"file {entry.file} (sha256 {entry.sha256}{note})")
        more = f" and {len(shown) - SHOWN_FILES} more" if len(shown) > SHOWN_FILES else ""
        return f"source {name}, {', '.join(files)}{more}"

    def files(self, counts: list[tuple[str | None, int]], rows: bool) -> str:
        """`source S, file F (sha256 H): N rows; ...` for failing rows by file_sha256."""
        parts = []
        for sha, count in counts[:SHOWN_FILES]:
            entry = self.by_sha.get(sha) if sha else None
            if entry is None:
                parts.append(f"file sha256 {sha}" if sha else "no raw file")
                continue
            text = f"source {entry.source}, file {entry.file} (sha256 {entry.sha256})"
            parts.append(f"{text}: {count:,} row(s)" if rows else text)
        if len(counts) > SHOWN_FILES:
            parts.append(f"and {len(counts) - SHOWN_FILES} more file(s)")
        return "; ".join(parts)


def origin(con: duckdb.DuckDBPyConnection, query: str, meta: dict, origins: Origins) -> str:
    """The source and raw files of the rows `query` selects (see the module docstring)."""
    try:
        columns = con.sql(query).columns
        if "file_sha256" in columns:
            counts = con.sql(
                f"select file_sha256, count(*) as n from ({query}) "
                "group by all order by n desc, file_sha256"
            ).fetchall()
            return origins.files(counts, rows="source_row" in columns)
        if "source" in columns:
            names = con.sql(f"select distinct source from ({query}) order by 1").fetchall()
            return "; ".join(origins.source(str(n[0])) for n in names if n[0] is not None)
    except duckdb.Error:
        return ""
    source = meta.get("source")
    return origins.source(source) if source else ""


def name_origins(
    con: duckdb.DuckDBPyConnection,
    result: GateResult,
    suites: dict[str, dict],
    origins: Origins,
) -> None:
    """Give every failed check with failing rows the source and files they came from."""
    named: list[Check] = []
    for check in result.checks:
        query = result.selects.get(check_key(check))
        if check.success or query is None:
            named.append(check)
            continue
        meta = (suites.get(check.suite) or {}).get("meta") or {}
        named.append(replace(check, origin=origin(con, query, meta, origins)))
    result.checks = named


def failure_file_name(check: Check) -> str:
    """`<suite>.<check>` (the column too for a GX check without a name of its own)."""
    name = check.name or ".".join(p for p in (check.expectation, check.column) if p)
    return _FILE_NAME.sub("_", f"{check.suite}.{name}")[:120]


def write_failures(
    con: duckdb.DuckDBPyConnection, result: GateResult, warehouse: Warehouse, run_id: str
) -> list[FailureFile]:
    """Every failing row of each failed check, to quarantine/<run>/gate-failures/ (Parquet,
    written by DuckDB from the check's own query: no row passes through Python)."""
    from flows.s4_gate.quarantine import run_folder

    run_folder(warehouse, run_id)  # a run id that is one folder name
    written = []
    folder = warehouse.gate_failures_folder(run_id)
    for check in result.checks:
        query = result.selects.get(check_key(check))
        if check.success or query is None:
            continue
        name = failure_file_name(check)
        path = folder / f"{name}.parquet"
        folder.mkdir(parents=True, exist_ok=True)
        # a dot-name the recovery sweep removes if the run is killed while writing
        temporary = folder / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            con.execute(f"copy ({query}) to {string_literal(str(temporary))} (format parquet)")
        except duckdb.Error:
            temporary.unlink(missing_ok=True)
            continue  # the failure's message already says what GX found
        os.replace(temporary, path)
        rows = pq.ParquetFile(path).metadata.num_rows
        written.append(FailureFile(name, check.severity, rows, path))
    return written


def read_failure_files(warehouse: Warehouse, run_id: str) -> list[FailureFile]:
    """The gate-failure files of a run, with their row counts (from the Parquet footers)."""
    found = []
    for path in warehouse.gate_failure_files(run_id):
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (OSError, ValueError):
            rows = -1  # unreadable: listed anyway, so the operator sees it
        found.append(FailureFile(path.stem, "", rows, path))
    return found
