"""The Prefect tasks of a run: one per stage, each a thin wrapper over its stage package."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows import __version__
from flows.config import Settings
from flows.lineage.capture import git_commit, write_lineage, write_lineage_rows
from flows.lineage.changes import write_changes
from flows.ops.run_artifacts import served_docs_url
from flows.pipeline.crash_points import crash_point
from flows.s1_sources.catalogue import Source, load_catalogue
from flows.s2_ingest.collect import SourceOutcome, ingest_source
from flows.s3_build.models import Model
from flows.s3_build.runner import build_models
from flows.s4_gate.suites import Check, blocking
from flows.s5_publish.fingerprint import KEY as INPUTS_KEY
from flows.s5_publish.publish import Draft, publish
from flows.warehouse.layout import Warehouse
from flows.warehouse.snapshots import current_snapshot


@task(name="fetch", retries=0, cache_policy=NO_CACHE, task_run_name="fetch-{source.name}")
def fetch_task(
    settings: Settings, warehouse: Warehouse, source: Source, fetched_at: datetime
) -> SourceOutcome:
    logger = get_run_logger()
    outcome = ingest_source(settings, source, fetched_at, warehouse)
    unchanged = len(outcome.files) - len(outcome.new)
    logger.info(
        "%s: %d new file(s) parsed, %d unchanged (not parsed again)",
        source.name,
        len(outcome.new),
        unchanged,
    )
    for item in outcome.new:
        if item.rejected:
            logger.warning("%s: %d row(s) quarantined in %s", source.name, item.rejected, item.file)
    return outcome


@task(name="build-models", cache_policy=NO_CACHE)
def build_task(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    warehouse: Warehouse,
    catalogue: dict[str, Source],
) -> list[Model]:
    logger = get_run_logger()
    return build_models(
        con,
        warehouse,
        catalogue,
        on_model=lambda m: (logger.info("built %s", m.name), crash_point(m.layer)),
        as_of=settings.as_of,
        variables=settings.result_affecting(),
    )


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    warehouse: Warehouse,
    catalogue: dict[str, Source],
    run_date: date,
    run_id: str,
) -> list[Check]:
    """Every suite in expectations/ (see flows/s4_gate/gate.py); failing rows go to quarantine."""
    from flows.s4_gate.gate import run_quality_gate

    logger = get_run_logger()
    crash_point("validation")
    outcome = run_quality_gate(
        con, settings, warehouse, catalogue, run_date, run_id, current_snapshot(warehouse)
    )
    checks = outcome.gate.checks
    for check in checks:
        if not check.success:
            log = logger.error if check.severity == "error" else logger.warning
            log("%s: %s", check.severity, check.describe())
    for line in outcome.accepted:
        logger.warning("%s", line)
    if outcome.failures:
        failures_artifact(outcome.failures, run_id, warehouse)
        logger.warning(
            "every failing row of %d failed check(s) in %s: see `toll quarantine %s`",
            len(outcome.failures),
            outcome.failures[0].path.parent,
            run_id,
        )
    if outcome.quarantined:
        logger.warning(
            "%d row(s) quarantined: see `toll quarantine %s`", outcome.quarantined, run_id
        )
    if outcome.docs is not None:
        create_link_artifact(
            link=served_docs_url(outcome.docs, settings.docs_url),
            link_text="GX Data Docs of this run's gate (`toll docs`)",
            key="toll-gate-docs",
            description=f"Data Docs: {outcome.docs}",
        )
    logger.info("%d expectations, %d failed", len(checks), sum(not c.success for c in checks))
    return checks


def failures_artifact(failures: list, run_id: str, warehouse: Warehouse | None = None) -> None:
    """The `toll-gate-failures` artifact: each failed check's file of failing rows, linked by
    a URL a browser opens: on object storage the file's object on the bucket, presigned (the run
    uploads its quarantine when the gate ends; the signature does not need the object yet)."""

    def link(path: Path) -> str:
        if warehouse is None or warehouse.remote is None:
            return path.as_uri()
        key = path.relative_to(warehouse.root_folder()).as_posix()
        return warehouse.remote.presigned(key)

    lines = [
        f"Every row each failed check found, as Parquet beside the run's quarantine "
        f"(`toll quarantine {run_id}` lists them).",
        "",
        "| check | severity | rows | file |",
        "|---|---|---:|---|",
    ]
    lines += [
        f"| {f.check} | {f.severity} | {f.rows:,} | [{f.path.name}]({link(f.path)}) |"
        for f in failures
    ]
    create_markdown_artifact(
        markdown="\n".join(lines),
        key="toll-gate-failures",
        description=f"Failing rows of the gate's checks: {failures[0].path.parent}",
    )


def draft_snapshot(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    warehouse: Warehouse,
    models: list[Model],
    sources: dict,
) -> Draft:
    """Start writing the snapshot while the gate runs: its tables, the lineage's row counts and
    the report, which depend on the build alone (`Draft`)."""
    # what the report reads of `_snapshot.json`, as it will read there (the JSON round trip)
    seen = json.loads(
        json.dumps({"settings": settings.result_affecting(), "sources": sources}, default=str)
    )

    def ahead(cursor: duckdb.DuckDBPyConnection, folder: Path, snapshot: str) -> None:
        from flows.s6_report import write_report

        # the report (charts from the snapshot's own toll.duckdb) is drawn while DuckDB counts
        # the lineage's rows: each left a core mostly idle, 1.2 s and 1.7 s one after the
        # other at 100x
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="toll-report") as pool:
            report = pool.submit(write_report, folder, snapshot=snapshot, metadata=seen)
            write_lineage_rows(folder, cursor, models)
            report.result()

    return Draft(con, warehouse, models, ahead)


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    warehouse: Warehouse,
    models: list[Model],
    checks: list[Check],
    sources: dict,
    fingerprint: str | None = None,
    extra: dict | None = None,
    columns: Callable[[], dict] | None = None,
    *,
    draft: Draft,
) -> Path:
    """`columns`: gives the column lineage traced while the gate ran (`columns_in_background`);
    `draft`: the snapshot's files written meanwhile (`draft_snapshot`)."""
    run = {"flow_run_id": str(flow_run.id), "flow_run_name": flow_run.name}
    metadata = {
        INPUTS_KEY: fingerprint,
        "toll_version": __version__,
        "git_commit": git_commit(),
        "run": run,
        "published_at": datetime.now(UTC).isoformat(),
        "settings": settings.result_affecting(),
        "sources": sources,
        "gate": {
            "expectations": len(checks),
            "failed_errors": len(blocking(checks)),
            "failed_warnings": sum(not c.success and c.severity == "warning" for c in checks),
        },
        **(extra or {}),
    }
    previous = current_snapshot(warehouse)

    def before_switch(folder: Path, snapshot: str) -> None:
        traced = columns() if columns is not None else None
        write_lineage(folder, con, settings, warehouse, models, checks, run, traced)
        write_changes(previous, folder, snapshot)

    catalogue = load_catalogue(settings.catalogue)
    return publish(
        draft, warehouse, models, metadata, before_switch=before_switch, catalogue=catalogue
    )


@task(name="report", cache_policy=NO_CACHE)
def report_task(snapshot: Path) -> None:
    """The report's summary as a Prefect artifact (the report itself is in the snapshot)."""
    from flows.s6_report import REPORT_DIR, SUMMARY_MD

    summary = (snapshot / REPORT_DIR / SUMMARY_MD).read_text(encoding="utf-8")
    create_markdown_artifact(markdown=summary, key="yearly-summary", description="toll report")
