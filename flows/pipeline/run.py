"""The run skeleton both flows share: lock, sweep, fetch, quarantine, build, gate, publish.

A nightly run and a backfill differ only in what a `RunPlan` says: which files to fetch, whether
an unchanged build may stand (nightly), and what happens between build and gate (a backfill
merges its partitions into the current snapshot's).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from prefect import get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote

from flows.config import Settings
from flows.errors import (
    FULL,
    PROGRESS_LOGGER,
    GateFailed,
    TollError,
    plain_log_consoles,
    refused_write,
    write_fault,
)
from flows.lineage.capture import columns_in_background
from flows.lineage.changes import changes_artifact
from flows.ops.run_artifacts import (
    completion_message,
    publish_run_artifacts,
    report_link_artifact,
)
from flows.pipeline.spread import spread_ingest
from flows.pipeline.tasks import (
    build_task,
    draft_snapshot,
    fetch_task,
    publish_task,
    report_task,
    validate_task,
)
from flows.s1_sources.catalogue import Source, load_catalogue
from flows.s2_ingest.collect import SourceOutcome
from flows.s2_ingest.parallel import HEAVY_FORMATS
from flows.s3_build.models import Model
from flows.s4_gate.gate import run_docs
from flows.s4_gate.quarantine import new_run_id, record_new_rejects
from flows.s4_gate.region_check import quarantine_unmapped_regions
from flows.s4_gate.suites import blocking
from flows.s5_publish.fingerprint import inputs_fingerprint, unchanged_snapshot
from flows.s5_publish.snapshots import Pinned, prune, refuse_if_pinned
from flows.warehouse.database import work_database
from flows.warehouse.layout import DOCS, QUARANTINE, Warehouse
from flows.warehouse.lock import warehouse_lock
from flows.warehouse.raw_store import sources_in_use
from flows.warehouse.recovery import sweep
from flows.warehouse.snapshots import current_snapshot, sweep_unfinished
from flows.warehouse.working_copy import (
    pull,
    push_outputs,
    push_raw,
    remote_of,
    working_copy,
)


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
    plain_log_consoles()
    mark_run(None, plan)
    before = _current_name(settings)
    try:
        state = _run(settings, run_date, plan)
    except GateFailed as exc:
        get_run_logger().error("%s", exc)
        mark_run("gate-failed")
        return Failed(name=GateFailed.STATE, message=str(exc), data=exc)
    except Pinned as exc:
        # not a failure: an operator chose to hold this snapshot; the run says so and stops
        get_run_logger().warning("%s", exc)
        mark_run("pinned")
        current = current_snapshot(run_warehouse(settings))
        result = RunResult(plan.kind, str(current), 0, unchanged=True)
        return Completed(name="Pinned", message=str(exc), data=result)
    except Exception as exc:
        # a full disk or a folder that cannot be written, from Python or DuckDB: one line
        # saying where and what stays current (was an OSError or TransactionException
        # traceback); every temporary file was removed on the way out
        if isinstance(exc, TollError):
            raise
        where = run_warehouse(settings).root_folder()
        fault = write_fault(exc, where, before, _current_name(settings))
        if fault is None:
            raise
        if flow_run.name and refused_write(exc)[1] in FULL:
            # this run's Data Docs describe a build that was never published: on a full disk
            # they are the space the next run needs (6.9 MB for the demo)
            shutil.rmtree(run_warehouse(settings).docs_folder(flow_run.name), ignore_errors=True)
        mark_run("failed")
        raise fault from None
    mark_run(state.name.lower())
    return state


def _current_name(settings: Settings) -> str | None:
    try:
        current = current_snapshot(run_warehouse(settings))
    except (TollError, OSError):
        return None
    return current.name if current else None


progress = logging.getLogger(PROGRESS_LOGGER)

# A run's outcome is its state's name (the UI's run list shows it) and a tag (to filter on).
PUBLISHED, UNCHANGED = "Published", "Unchanged"


def mark_run(outcome: str | None, plan: RunPlan | None = None) -> None:
    """Tag the flow run however it was started: toll, its host, kind, range and outcome."""
    from flows.ops.host import this_host

    tags = ["toll", f"host:{this_host()}"]
    if plan is not None:
        tags.append(plan.kind)
        if plan.weeks is not None:
            tags.append(f"range:{plan.extra.get('start')}..{plan.extra.get('end')}")
    if outcome:
        tags.append(outcome)
    add_tags(tags)


def add_tags(tags: list[str]) -> None:
    """Add `tags` to this flow run's (none outside a flow run; a failure is only a warning)."""
    if flow_run.id is None:
        return
    try:
        from prefect import get_client

        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run.id)
            merged = list(dict.fromkeys([*run.tags, *tags]))
            if merged != list(run.tags):
                client.update_flow_run(flow_run.id, tags=merged)
    except Exception as exc:  # noqa: BLE001 - a tag must never fail a run
        get_run_logger().warning("could not tag the run: %s", exc)


# Imported by the gate and lineage steps; slow to import (GX 2.5 s, sqlglot's lineage 0.3 s on
# the real data, a quarter of the gate's 5.9 s at 1x). A thread imports them while the sources
# are fetched (their parsing, zstd and writes release the GIL); the steps then find them
# loaded (the map workers are not forked from this process: no import lock to inherit).
# Started after the whole fetch, the import ran into the build: 100x build 6.5-9.6 s, 2.7-4.2 s
# started here, while the fetch takes 1-4 s longer (7 runs each on a noisy machine). A run on a
# temporary Prefect server imports them before its flow instead, while that server boots
# (`toll run`: the main thread only waits there; the thread here then finds them loaded).
SLOW_IMPORTS = ("great_expectations", "sqlglot.lineage")


def import_slow_modules() -> None:
    """Import `SLOW_IMPORTS` now (an import error surfaces where the module is used)."""
    for name in SLOW_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the step that needs it reports the error
            return


@functools.cache
def warm_imports() -> threading.Thread:
    """`import_slow_modules` in a background thread, waited for at exit: a run that fails
    within a second ends while GX is still being imported, and a process that exits under a
    thread inside a C library (OpenSSL, see flows/ops/local_api.py `LocalApi.close`) can be
    killed by a signal instead of ending with its own message and status. Once per process:
    the modules stay imported, so later runs in it (a backfill's days) add no thread or
    exit handler."""
    thread = threading.Thread(target=import_slow_modules, name="toll-warm-imports", daemon=True)
    thread.start()
    atexit.register(thread.join)
    return thread


# Sources fetched side by side. Two: one per core; the large ones spend their time in Polars,
# zstd, hashing and file writes, which release the GIL (100x: Mediazona's 5,000 vintages and the
# 2 M named records, 4.8 s and 2.9 s in turn).
FETCH_THREADS = 2


def fetch_sources(
    settings: Settings, warehouse: Warehouse, sources: dict[str, Source], fetched_at: datetime
) -> list[SourceOutcome]:
    """Fetch every source, the outcomes in catalogue order; the first failure (in that order)
    is raised once every source has finished.

    All at once, the map sources first (their maps are parsed by worker processes started as
    fresh interpreters: flows/s2_ingest/parallel.py), the others in catalogue order on
    `FETCH_THREADS` threads; large files parse one source at a time (`LARGE_PARSE_BYTES` in
    flows/s2_ingest/collect.py)."""
    from prefect.task_runners import ThreadPoolTaskRunner

    # quote(): Prefect walks every element of a task's parameters twice to find futures;
    # at 100x the catalogue and a source list 5,000 files each (≈ 2 s of a cold run).
    # These parameters hold no futures, so they are passed as they are.
    def parameters(source: Source) -> dict:
        return dict(
            settings=settings, warehouse=warehouse, source=quote(source), fetched_at=fetched_at
        )

    warehouse.manifest()  # read once here, not by two threads at once
    warm_imports()
    maps = [s for s in sources.values() if s.format in HEAVY_FORMATS]
    others = [s for s in sources.values() if s.format not in HEAVY_FORMATS]
    with ThreadPoolTaskRunner(max_workers=FETCH_THREADS + len(maps)) as runner:
        futures = {s.name: runner.submit(fetch_task, parameters(s)) for s in [*maps, *others]}
        for future in futures.values():
            future.wait()
    states = {name: future.state for name, future in futures.items()}
    return [states[name].result() for name in sources if name in states]


def run_id_for(fetched_at: datetime) -> str:
    """The one id of a run, shown everywhere (history, quarantine, Data Docs, snapshot): the
    flow run's name; a stamp when there is no flow run."""
    return flow_run.name or new_run_id(fetched_at)


def run_warehouse(settings: Settings) -> Warehouse:
    """Where a run builds: the warehouse folder, or on object storage this host's working copy
    bound to the bucket (pulled by `_run`)."""
    return working_copy(Warehouse.at(settings.warehouse, object_storage=True))


@contextmanager
def outputs_uploaded(warehouse: Warehouse, run_id: str) -> Iterator[None]:
    """On object storage, a run's quarantine and Data Docs go to the bucket as objects when the
    block ends, also after a failed gate (what it set aside is what an operator looks at)."""
    try:
        yield
    finally:
        if warehouse.remote is not None:
            try:
                push_outputs(warehouse, [f"{QUARANTINE}/{run_id}", f"{DOCS}/{run_id}"])
            except TollError as exc:  # the run's own outcome matters more than these files
                get_run_logger().warning("quarantine and Data Docs not uploaded: %s", exc)


def _run(settings: Settings, run_date: date, plan: RunPlan) -> State:
    logger = get_run_logger()
    warehouse = run_warehouse(settings)
    catalogue = load_catalogue(settings.catalogue)
    # the lock is this host's (its working copy); on a bucket the If-Match swap is the backstop
    with warehouse_lock(warehouse):
        if warehouse.remote is not None:
            pull(warehouse, locked=True)
            longest = timedelta(hours=settings.longest_run_hours)
            for name in sweep_unfinished(remote_of(warehouse), longest):
                logger.warning("deleted unfinished snapshot prefix %s, left by a dead run", name)
        refuse_if_pinned(warehouse)
        base = current_snapshot(warehouse)
        if plan.merge is not None and base is None:
            raise TollError(
                f"no published snapshot in {warehouse} to backfill into: run `toll run` first"
            )
        for path in sweep(warehouse):
            logger.warning("removed %s, left by an interrupted run", path)
        fetched_at = datetime.now(UTC)
        if parts := spread_ingest(settings, warehouse, plan.select(catalogue), fetched_at):
            progress.info("%d ingest part(s) ran on the pool", parts)
        outcomes = fetch_sources(settings, warehouse, plan.select(catalogue), fetched_at)
        if warehouse.remote is not None and (pushed := push_raw(warehouse)):
            progress.info("uploaded %d raw file(s) to %s", pushed, warehouse.remote.root)
        new_files = sum(len(o.new) for o in outcomes)
        files = sum(len(o.files) for o in outcomes)
        progress.info(
            "fetched %d source(s): %d new file(s) parsed, %d unchanged",
            len(outcomes),
            new_files,
            files - new_files,
        )
        run_id = run_id_for(fetched_at)
        with outputs_uploaded(warehouse, run_id):
            if quarantined := record_new_rejects(warehouse, run_id, outcomes):
                logger.warning(
                    "%d row(s) quarantined: see `toll quarantine %s`", quarantined, run_id
                )
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
                    return Completed(name=UNCHANGED, message=message, data=result)
                if new_files == 0:
                    logger.info(
                        "no source changed: nothing parsed again; rebuilding from the raw layer"
                    )

            rebuilt: dict[str, int] = {}
            with work_database(warehouse, fetched_at) as con:
                models = build_task(con, settings, warehouse, quote(catalogue))
                progress.info("built %d models", len(models))
                columns = columns_in_background(con, models)  # traced while the gate runs
                if unmapped := quarantine_unmapped_regions(con, warehouse, run_id):
                    logger.warning("%d unknown region spelling(s) quarantined", unmapped)
                if plan.merge is not None:
                    rebuilt = plan.merge(con, models, base)
                sources = sources_in_use(warehouse, catalogue, settings.as_of)
                # the snapshot's files that need no gate result are written while it runs
                draft = draft_snapshot(con, settings, warehouse, models, sources)
                try:
                    checks = validate_task(
                        con, settings, warehouse, quote(catalogue), run_date, run_id
                    )
                    failed = blocking(checks)
                    warned = sum(not c.success and c.severity == "warning" for c in checks)
                    progress.info(
                        "gate: %d expectations, %d failed error(s), %d warning(s)",
                        len(checks),
                        len(failed),
                        warned,
                    )
                    if failed:
                        raise GateFailed([c.describe() for c in failed])
                    extra = plan.extra
                    if accepted := [s for s in settings.accept_shrink.split(",") if s]:
                        # the override is part of the record: the snapshot says what was let by
                        logger.warning(
                            "shrink accepted for %s by --accept-shrink", ", ".join(accepted)
                        )
                        extra = {**extra, "accepted_shrink": accepted}
                    if plan.merge is not None:
                        extra = {
                            "backfill": {**extra, "based_on": base.name, "rebuilt_rows": rebuilt}
                        }
                    snapshot = publish_task(
                        con,
                        settings,
                        warehouse,
                        quote(models),
                        quote(checks),
                        quote(sources),
                        fingerprint,
                        extra,
                        quote(columns),
                        draft=quote(draft),
                    )
                except BaseException:
                    # a failed gate or publish leaves no draft (once renamed, nothing is left)
                    draft.discard()
                    raise
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
    report_link_artifact(warehouse, snapshot.name)
    changes_artifact(snapshot)
    message = completion_message(snapshot)
    weeks = None
    if plan.weeks is not None:
        weeks = (plan.weeks[0].isoformat(), plan.weeks[1].isoformat())
        message += f"; weeks {weeks[0]}..{weeks[1]} rebuilt"
    logger.info("published %s", snapshot)
    progress.info("published snapshot %s", snapshot.name)
    result = RunResult(plan.kind, str(snapshot), new_files, weeks=weeks, rebuilt_rows=rebuilt)
    return Completed(name=PUBLISHED, message=message, data=result)
