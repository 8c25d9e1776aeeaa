"""The `nightly` flow: fetch what changed, build, gate, publish (flows/pipeline/run.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, State

from flows.config import Settings, load_settings
from flows.ops.alerts import alert_on_failure
from flows.ops.catchup import skip_message, superseded_by
from flows.ops.host import deployment_id
from flows.pipeline.run import RunPlan, mark_run, run_pipeline


def _run_name() -> str:
    # the date the run is for (its run_date, else the day it was due: a late run keeps its day)
    # and the time it was due, so that no two runs share a name
    given = (flow_run.parameters or {}).get("run_date")
    when = (flow_run.scheduled_start_time or datetime.now(UTC)).astimezone(UTC)
    return f"nightly-{given or when.date()}-{when:%H%M%S}"


@flow(
    name="nightly",
    flow_run_name=_run_name,
    log_prints=False,
    on_failure=[alert_on_failure],
)
def nightly(
    settings: Settings | None = None, run_date: date | None = None, rebuild: bool = False
) -> State:
    """Fetch what changed, rebuild every model, gate it, publish a new snapshot.

    When no input, setting or model changed since the current snapshot, that snapshot stands
    and nothing is rebuilt (unless `rebuild`)."""
    settings = settings or load_settings()
    run_date = run_date or datetime.now(UTC).date()
    if deployment_id() and flow_run.scheduled_start_time:
        by = superseded_by(flow_run.scheduled_start_time)
        if by is not None:
            message = skip_message(flow_run.scheduled_start_time, by)
            get_run_logger().info(message)
            mark_run("skipped")
            return Completed(name="Skipped", message=message, data={"skipped": True, "by": by})
    plan = RunPlan(kind="nightly", title=f"nightly {run_date}", rebuild=rebuild)
    return run_pipeline(settings, run_date, plan)
