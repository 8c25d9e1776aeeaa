"""The whole quality gate of a run: suites, previous-snapshot drift, quarantine, Data Docs.

`suites.py` runs GX suites; this module prepares what they compare against (the previous
published snapshot, the quarantine share per source), quarantines failing raw/staging rows and
writes the run's Data Docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from flows.config import Settings
from flows.errors import TollError
from flows.s1_sources.catalogue import Source
from flows.s4_gate import quarantine
from flows.s4_gate.failures import FailureFile, Origins, name_origins, write_failures
from flows.s4_gate.suites import GateResult, load_suites, suite_table, validate
from flows.warehouse.layout import Warehouse
from flows.warehouse.raw_store import entries_in_use, read_entries
from flows.warehouse.sql_names import identifier, quoted


def run_docs(warehouse: Warehouse, run_id: str) -> Path:
    """Where the gate of run `run_id` writes its Data Docs index."""
    return warehouse.docs_index(run_id)


SHARE_TABLE = "gate_quarantine_share"
SHARE_SUITE = "quarantine_share"
# Files and rows per source, now and in what the previous snapshot was built from.
ROWS_TABLE = "gate_source_rows"
# Tables the drift suite compares with the previous snapshot.
DRIFT_TABLES = ("fct_weekly_losses", "fct_daily_losses", "fct_regional_losses", "dim_region")


@dataclass
class QualityOutcome:
    gate: GateResult
    quarantined: int
    docs: Path | None
    # what --accept-shrink let through, one line per source, for the run's log
    accepted: list[str] = field(default_factory=list)
    # every failing row of each failed check, beside the quarantine
    failures: list[FailureFile] = field(default_factory=list)


def gate_parameters(settings: Settings, run_date: date) -> dict[str, object]:
    """Every threshold the suites read, from settings (names match `$name` in expectations/)."""
    parameters = {"run_date": run_date, **settings.feeding("gate")}
    if settings.as_of is not None:
        # `--as-of` asks for older data on purpose: its vintages end earlier than the current
        # snapshot's, which the completeness checks would otherwise refuse
        from flows.s1_sources.catalogue import load_catalogue

        parameters["accept_shrink"] = ",".join(load_catalogue(settings.catalogue))
    return parameters


def attach_previous(con: duckdb.DuckDBPyConnection, previous: Path | None) -> None:
    """Views `prev_<table>` over the previous snapshot's Parquet (empty when there is none)."""
    for table in DRIFT_TABLES:
        view = quoted(f"prev_{table}")
        path = previous / f"{identifier(table)}.parquet" if previous else None
        if path is not None and path.exists():
            con.read_parquet(str(path)).create_view(f"prev_{table}", replace=True)
        else:
            con.execute(
                f"create or replace view {view} as select * from {quoted(table)} where false"
            )


def quarantine_shares(
    warehouse: Warehouse,
    catalogue: dict[str, Source],
    failing: pl.DataFrame | None,
    as_of: object = None,
) -> pl.DataFrame:
    """Per source: rows read, rows rejected by the parser plus rows failing row checks, and
    the file with the most of them (its sha256), which a failure names."""
    rows = []
    for source in catalogue.values():
        entries = entries_in_use(warehouse, source, as_of)
        total = sum(e.rows + e.rejected for e in entries)
        per_file = {e.sha256: e.rejected for e in entries if e.rejected}
        if failing is not None:
            flagged = (
                failing.filter(pl.col("source") == source.name)
                .select("file_sha256", "row")
                .unique()
                .group_by("file_sha256")
                .len()
            )
            for sha, count in flagged.iter_rows():
                per_file[sha] = per_file.get(sha, 0) + count
        worst = max(per_file, key=lambda sha: (per_file[sha], sha or "")) if per_file else None
        rows.append((source.name, total, sum(per_file.values()), worst))
    return pl.DataFrame(
        rows,
        schema={
            "source": pl.String,
            "total_rows": pl.Int64,
            "quarantined_rows": pl.Int64,
            "file_sha256": pl.String,
        },
        orient="row",
    )


def source_rows(origins: Origins) -> pl.DataFrame:
    """Per source the previous snapshot read: its files and rows then, and this build's."""
    rows = []
    for source, entries in origins.in_use.items():
        before = origins.rows_before(source)
        if before is not None:
            # rows read: a rejected row is the quarantine share's to judge, not a lost one
            now = sum(e.rows + e.rejected for e in entries)
            rows.append((source, *before, len(entries), now))
    return pl.DataFrame(
        rows,
        schema={
            "source": pl.String,
            "files_before": pl.Int64,
            "rows_before": pl.Int64,
            "files_now": pl.Int64,
            "rows_now": pl.Int64,
        },
        orient="row",
    )


def accepted_shrinks(rows: pl.DataFrame, accepted: str, previous: str | None) -> list[str]:
    """What `--accept-shrink` lets through this run: each named source that reads fewer rows."""
    names = [s for s in accepted.split(",") if s]
    lines = []
    for r in rows.filter(pl.col("source").is_in(names)).iter_rows(named=True):
        if r["rows_now"] < r["rows_before"]:
            lines.append(
                f"source {r['source']}: {r['rows_now']:,} rows in {r['files_now']} file(s), "
                f"{r['rows_before']:,} in {r['files_before']} in snapshot {previous}: "
                "shrink accepted by --accept-shrink for this run"
            )
    return lines


def _table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    con.register("_gate_frame", frame.to_arrow())
    con.execute(f"create or replace table {quoted(name)} as select * from _gate_frame")
    con.unregister("_gate_frame")


def run_quality_gate(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    warehouse: Warehouse,
    catalogue: dict[str, Source],
    run_date: date,
    run_id: str,
    previous: Path | None,
    docs: bool = True,
    record: bool = True,
    inputs: dict | None = None,
) -> QualityOutcome:
    """Validate every suite, quarantine failing raw/staging rows, then the share per source.

    `inputs`: per source, the raw files the build read (default: those in use now)."""
    suites = load_suites()
    parameters = gate_parameters(settings, run_date)
    attach_previous(con, previous)
    origins = Origins.of(warehouse, catalogue, previous, settings.as_of, inputs)
    rows = source_rows(origins)
    _table(con, ROWS_TABLE, rows)
    main = {n: s for n, s in suites.items() if n != SHARE_SUITE}
    result = validate(con, parameters, main)

    failing = _with_sources(result.failing_rows, suites, warehouse, catalogue)
    _table(con, SHARE_TABLE, quarantine_shares(warehouse, catalogue, failing, settings.as_of))
    if SHARE_SUITE in suites:
        result.add(validate(con, parameters, {SHARE_SUITE: suites[SHARE_SUITE]}))
    name_origins(con, result, suites, origins)

    count = 0
    if record and failing is not None and failing.height:
        quarantine.record(warehouse, run_id, failing.drop("suite"))
        count = failing.height
    written = write_failures(con, result, warehouse, run_id) if record else []
    folder = None
    if docs:
        from flows.s4_gate.data_docs import build_data_docs

        folder = build_data_docs(result, warehouse.docs_folder(run_id))
    accepted = accepted_shrinks(rows, str(parameters.get("accept_shrink", "")), origins.previous)
    return QualityOutcome(result, count, folder, accepted, written)


def _with_sources(
    failing: pl.DataFrame | None,
    suites: dict,
    warehouse: Warehouse,
    catalogue: dict[str, Source],
) -> pl.DataFrame | None:
    """Failing rows with their source, raw file name and stage (for the quarantine)."""
    if failing is None or failing.height == 0:
        return None
    meta = {n: s.get("meta") or {} for n, s in suites.items()}
    files = {e.sha256: e.file for s in catalogue.values() for e in entries_in_use(warehouse, s)}
    suite_source = pl.DataFrame(
        {
            "suite": list(meta),
            "source": [m.get("source", suite_table(n, suites[n])) for n, m in meta.items()],
            "stage": [m.get("layer", "") for m in meta.values()],
        }
    )
    return failing.join(suite_source, on="suite", how="left").with_columns(
        pl.col("file_sha256")
        .replace_strict(files, default=None, return_dtype=pl.String)
        .alias("file")
    )


def validate_snapshot(
    settings: Settings, warehouse: Warehouse, snapshot: Path, run_date: date, docs: bool = True
) -> QualityOutcome:
    """Every suite against a published snapshot: its marts as published, raw and staging rebuilt
    from the raw files it names (by sha256), drift against the snapshot before it."""
    import json

    from flows.s1_sources.catalogue import load_catalogue
    from flows.s3_build.models import discover, run_macros, run_models
    from flows.warehouse.database import connect
    from flows.warehouse.snapshots import METADATA, previous

    meta = json.loads((snapshot / METADATA).read_text(encoding="utf-8"))
    catalogue = load_catalogue(settings.catalogue)
    manifest = {(e.source, e.sha256): e for e in warehouse.manifest()}
    inputs = {}
    if accepted := meta.get("accepted_shrink"):
        # a shrink the publishing run accepted is part of that snapshot's record
        settings = settings.model_copy(update={"accept_shrink": ",".join(accepted)})
    con = connect()
    try:
        for name, value in (meta.get("settings") or {}).items():
            con.execute(f"set variable {identifier(name)} = ?", [value])
        for source in catalogue.values():
            shas = [f["sha256"] for f in meta.get("sources", {}).get(source.name, [])]
            missing = [s for s in shas if (source.name, s) not in manifest]
            if not shas or missing:
                raise TollError(
                    f"snapshot {snapshot.name}: raw files of source '{source.name}' are not in "
                    f"warehouse {warehouse} ({len(missing)} of {len(shas)} missing)"
                )
            entries = [manifest[(source.name, s)] for s in shas]
            inputs[source.name] = entries
            read_entries(con, warehouse, entries).create_view(
                identifier(f"raw_{source.name}"), replace=True
            )
        run_macros(con)
        run_models(con, discover())
        for table in meta.get("tables", {}):
            con.execute(
                f"create or replace table {quoted(table)} as select * from read_parquet(?)",
                [str(snapshot / f"{identifier(table)}.parquet")],
            )
        before = previous(warehouse, before=snapshot.name)
        return run_quality_gate(
            con,
            settings,
            warehouse,
            catalogue,
            run_date,
            f"validate-{snapshot.name}",
            warehouse.snapshot_folder(before) if before else None,
            docs=docs,
            record=False,
            inputs=inputs,
        )
    finally:
        con.close()
