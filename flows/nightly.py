"""The Prefect flows: fetch -> stage and model -> validate -> publish."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment, flow_run
from prefect.states import Completed

from flows import __version__
from flows.alerts import alert_on_failure
from flows.catchup import skip_message, superseded_by
from flows.changes import changes_artifact, write_changes
from flows.config import Settings, load_settings
from flows.crash_points import crash_point
from flows.errors import GateFailed
from flows.fingerprint import KEY as INPUTS_KEY
from flows.fingerprint import inputs_fingerprint, unchanged_snapshot
from flows.gate import Check, blocking
from flows.ingest.collect import SourceOutcome, ingest_source
from flows.lineage import git_commit, write_lineage
from flows.models import Model
from flows.publish import current_snapshot, publish, warehouse_lock
from flows.quality import run_docs
from flows.quarantine import new_run_id, record_new_rejects
from flows.raw_store import sources_in_use
from flows.recovery import sweep
from flows.region_check import quarantine_unmapped_regions
from flows.run_artifacts import completion_message, publish_run_artifacts
from flows.snapshots import prune
from flows.sources import Source, load_catalogue
from flows.warehouse import build_models, work_database


@task(name="fetch", retries=0, cache_policy=NO_CACHE, task_run_name="fetch-{source.name}")
def fetch_task(settings: Settings, source: Source, fetched_at: datetime) -> SourceOutcome:
    logger = get_run_logger()
    outcome = ingest_source(settings, source, fetched_at)
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


def _run_name() -> str:
    # the date the run is for: its run_date, else the day it was due (a late run keeps its day)
    given = (flow_run.parameters or {}).get("run_date")
    when = flow_run.scheduled_start_time or datetime.now(UTC)
    return f"nightly-{given or when.astimezone(UTC).date()}"


@flow(
    name="nightly",
    flow_run_name=_run_name,
    log_prints=False,
    on_failure=[alert_on_failure],
)
def nightly(
    settings: Settings | None = None, run_date: date | None = None, rebuild: bool = False
) -> dict:
    """Fetch what changed, rebuild every model, gate it, publish a new snapshot.

    When no input, setting or model changed since the current snapshot, that snapshot stands
    and nothing is rebuilt (unless `rebuild`)."""
    logger = get_run_logger()
    settings = settings or load_settings()
    run_date = run_date or datetime.now(UTC).date()
    if deployment.id and flow_run.scheduled_start_time:
        by = superseded_by(flow_run.scheduled_start_time)
        if by is not None:
            message = skip_message(flow_run.scheduled_start_time, by)
            logger.info(message)
            return Completed(name="Skipped", message=message, data={"skipped": True, "by": by})
    catalogue = load_catalogue(settings.catalogue)
    warehouse = settings.warehouse
    with warehouse_lock(warehouse):
        for path in sweep(warehouse):
            logger.warning("removed %s, left by an interrupted run", path)
        fetched_at = datetime.now(UTC)
        outcomes = [fetch_task(settings, source, fetched_at) for source in catalogue.values()]
        new_files = sum(len(o.new) for o in outcomes)
        run_id = new_run_id(fetched_at)
        if quarantined := record_new_rejects(warehouse, run_id, outcomes):
            logger.warning("%d row(s) quarantined: see `toll quarantine %s`", quarantined, run_id)
        fingerprint = inputs_fingerprint(settings, catalogue)
        same = unchanged_snapshot(warehouse, fingerprint) if not rebuild else None
        if same is not None:
            message = f"nothing changed since snapshot {same.name}: not rebuilt, it stays current"
            logger.info(message)
            changes_artifact(same, rebuilt=False)
            result = {"snapshot": str(same), "new_files": new_files, "unchanged": True}
            return Completed(message=message, data=result)
        if new_files == 0:
            logger.info("no source changed: nothing parsed again; rebuilding from the raw layer")

        with work_database(warehouse, fetched_at) as con:
            models = build_task(con, settings, catalogue)
            if unmapped := quarantine_unmapped_regions(con, warehouse, run_id):
                logger.warning("%d unknown region spelling(s) quarantined", unmapped)
            checks = validate_task(con, settings, run_date, run_id)
            failed = blocking(checks)
            if failed:
                raise GateFailed([c.describe() for c in failed])
            sources = sources_in_use(warehouse, catalogue, settings.as_of)
            snapshot = publish_task(con, settings, models, checks, sources, fingerprint)
            for name in prune(warehouse, settings.keep_snapshots):
                logger.info("deleted snapshot %s (keep_snapshots)", name)
    report_task(snapshot)
    publish_run_artifacts(
        outcomes, checks, snapshot, title=f"nightly {run_date}", docs=run_docs(warehouse, run_id)
    )
    changes_artifact(snapshot)
    logger.info("published %s", snapshot)
    result = {"snapshot": str(snapshot), "new_files": new_files, "unchanged": False}
    return Completed(message=completion_message(snapshot), data=result)


@task(name="build-models", cache_policy=NO_CACHE)
def build_task(con, settings: Settings, catalogue: dict[str, Source]) -> list[Model]:
    logger = get_run_logger()
    return build_models(
        con,
        settings.warehouse,
        catalogue,
        on_model=lambda m: (logger.info("built %s", m.name), crash_point(m.layer)),
        as_of=settings.as_of,
        variables=settings.result_affecting(),
    )


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(
    con, settings: Settings, run_date: date, run_id: str | None = None
) -> list[Check]:
    """Every suite in expectations/ (see flows/quality.py); failing rows go to quarantine."""
    from flows.quality import run_quality_gate

    logger = get_run_logger()
    crash_point("validation")
    run_id = run_id or new_run_id()
    outcome = run_quality_gate(
        con,
        settings,
        load_catalogue(settings.catalogue),
        run_date,
        run_id,
        current_snapshot(settings.warehouse),
    )
    checks = outcome.gate.checks
    for check in checks:
        if not check.success:
            log = logger.error if check.severity == "error" else logger.warning
            log("%s: %s", check.severity, check.describe())
    if outcome.quarantined:
        logger.warning(
            "%d row(s) quarantined: see `toll quarantine %s`", outcome.quarantined, run_id
        )
    if outcome.docs is not None:
        create_link_artifact(
            link=outcome.docs.as_uri(),
            link_text="GX Data Docs of this run's gate",
            key="toll-gate-docs",
            description=f"Data Docs: {outcome.docs}",
        )
    logger.info("%d expectations, %d failed", len(checks), sum(not c.success for c in checks))
    return checks


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(
    con,
    settings: Settings,
    models: list[Model],
    checks: list[Check],
    sources: dict,
    fingerprint: str | None = None,
    extra: dict | None = None,
) -> Path:
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
    previous = current_snapshot(settings.warehouse)

    def before_switch(folder: Path, snapshot: str) -> None:
        write_lineage(folder, con, settings, models, checks, run)
        _write_report(folder, snapshot)
        write_changes(previous, folder, snapshot)

    return publish(con, settings.warehouse, models, metadata, before_switch=before_switch)


def _write_report(folder: Path, snapshot: str) -> None:
    from flows.report import write_report

    write_report(folder, snapshot=snapshot)


@task(name="report", cache_policy=NO_CACHE)
def report_task(snapshot: Path) -> None:
    """The report's summary as a Prefect artifact (the report itself is in the snapshot)."""
    from flows.report import REPORT_DIR, SUMMARY_MD

    summary = (snapshot / REPORT_DIR / SUMMARY_MD).read_text(encoding="utf-8")
    create_markdown_artifact(markdown=summary, key="yearly-summary", description="toll report")
