"""The run skeleton both flows share: lock, sweep, fetch, quarantine, build, gate, publish.

A nightly run and a backfill differ only in what a `RunPlan` says: which files to fetch, whether
an unchanged build may stand (nightly), and what happens between build and gate (a backfill
merges its partitions into the current snapshot's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from prefect import get_run_logger
from prefect.states import Completed, Failed, State

from flows.config import Settings
from flows.errors import GateFailed, TollError
from flows.lineage.changes import changes_artifact
from flows.ops.run_artifacts import completion_message, publish_run_artifacts
from flows.pipeline.tasks import build_task, fetch_task, publish_task, report_task, validate_task
from flows.s1_sources.catalogue import Source, load_catalogue
from flows.s3_build.models import Model
from flows.s4_gate.gate import run_docs
from flows.s4_gate.quarantine import new_run_id, record_new_rejects
from flows.s4_gate.region_check import quarantine_unmapped_regions
from flows.s4_gate.suites import blocking
from flows.s5_publish.fingerprint import inputs_fingerprint, unchanged_snapshot
from flows.s5_publish.snapshots import prune
from flows.warehouse.database import work_database
from flows.warehouse.layout import Warehouse
from flows.warehouse.lock import warehouse_lock
from flows.warehouse.raw_store import sources_in_use
from flows.warehouse.recovery import sweep
from flows.warehouse.snapshots import current_snapshot


@dataclass(frozen=True)
class RunResult:
    """What a run did; the flows return it as their state's data."""

    kind: str  # "nightly" or "backfill"
    snapshot: str  # the folder of the snapshot that is current after the run
    new_files: int = 0
    unchanged: bool = False  # nothing changed: the current snapshot stands, nothing rebuilt
    weeks: tuple[str, str] | None = None  # a backfill's first and last ISO week (Mondays)
    rebuilt_rows: dict[str, int] = field(default_factory=dict)


Merge = Callable[[duckdb.DuckDBPyConnection, list[Model], Path], dict[str, int]]


@dataclass(frozen=True)
class RunPlan:
    kind: str
    title: str  # "nightly 2026-12-03", "backfill 2024-01-01..2024-03-31"
    select: Callable[[dict[str, Source]], dict[str, Source]] = lambda catalogue: catalogue
    # nightly: record the inputs' fingerprint, and let an unchanged snapshot stand
    fingerprint: bool = True
    rebuild: bool = False
    # backfill: rows outside its partitions come from the current snapshot (which must exist)
    merge: Merge | None = None
    weeks: tuple[date, date] | None = None
    extra: dict = field(default_factory=dict)


def run_pipeline(settings: Settings, run_date: date, plan: RunPlan) -> State:
    """One run from fetch to report, under the warehouse lock; returns the final state.

    A failed gate ends the run in a Failed state named `GateFailed` (calling the flow still
    raises the GateFailed error)."""
    try:
        return _run(settings, run_date, plan)
    except GateFailed as exc:
        get_run_logger().error("%s", exc)
        return Failed(name=GateFailed.STATE, message=str(exc), data=exc)


def _run(settings: Settings, run_date: date, plan: RunPlan) -> State:
    logger = get_run_logger()
    warehouse = Warehouse.at(settings.warehouse)
    catalogue = load_catalogue(settings.catalogue)
    with warehouse_lock(warehouse):
        base = current_snapshot(warehouse)
        if plan.merge is not None and base is None:
            raise TollError(
                f"no published snapshot in {warehouse} to backfill into: run `toll run` first"
            )
        for path in sweep(warehouse):
            logger.warning("removed %s, left by an interrupted run", path)
        fetched_at = datetime.now(UTC)
        outcomes = [
            fetch_task(settings, warehouse, source, fetched_at)
            for source in plan.select(catalogue).values()
        ]
        new_files = sum(len(o.new) for o in outcomes)
        run_id = new_run_id(fetched_at)
        if quarantined := record_new_rejects(warehouse, run_id, outcomes):
            logger.warning("%d row(s) quarantined: see `toll quarantine %s`", quarantined, run_id)
        fingerprint = None
        if plan.fingerprint:
            fingerprint = inputs_fingerprint(settings, catalogue, warehouse)
            same = None if plan.rebuild else unchanged_snapshot(warehouse, fingerprint)
            if same is not None:
                message = (
                    f"nothing changed since snapshot {same.name}: not rebuilt, it stays current"
                )
                logger.info(message)
                changes_artifact(same, rebuilt=False)
                result = RunResult(plan.kind, str(same), new_files, unchanged=True)
                return Completed(message=message, data=result)
            if new_files == 0:
                logger.info(
                    "no source changed: nothing parsed again; rebuilding from the raw layer"
                )

        rebuilt: dict[str, int] = {}
        with work_database(warehouse, fetched_at) as con:
            models = build_task(con, settings, warehouse, catalogue)
            if unmapped := quarantine_unmapped_regions(con, warehouse, run_id):
                logger.warning("%d unknown region spelling(s) quarantined", unmapped)
            if plan.merge is not None:
                rebuilt = plan.merge(con, models, base)
            checks = validate_task(con, settings, warehouse, catalogue, run_date, run_id)
            failed = blocking(checks)
            if failed:
                raise GateFailed([c.describe() for c in failed])
            sources = sources_in_use(warehouse, catalogue, settings.as_of)
            extra = plan.extra
            if plan.merge is not None:
                extra = {"backfill": {**extra, "based_on": base.name, "rebuilt_rows": rebuilt}}
            snapshot = publish_task(
                con, settings, warehouse, models, checks, sources, fingerprint, extra
            )
            for name in prune(warehouse, settings.keep_snapshots):
                logger.info("deleted snapshot %s (keep_snapshots)", name)
    report_task(snapshot)
    publish_run_artifacts(
        outcomes,
        checks,
        snapshot,
        title=plan.title,
        docs=run_docs(warehouse, run_id),
        docs_url=settings.docs_url,
    )
    changes_artifact(snapshot)
    message = completion_message(snapshot)
    weeks = None
    if plan.weeks is not None:
        weeks = (plan.weeks[0].isoformat(), plan.weeks[1].isoformat())
        message += f"; weeks {weeks[0]}..{weeks[1]} rebuilt"
    logger.info("published %s", snapshot)
    result = RunResult(plan.kind, str(snapshot), new_files, weeks=weeks, rebuilt_rows=rebuilt)
    return Completed(message=message, data=result)
