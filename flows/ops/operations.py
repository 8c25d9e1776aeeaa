"""Talking to a Prefect server: submit a backfill to its deployment, read the run history."""

from __future__ import annotations

import re
from datetime import date

from flows.errors import TollError

BACKFILL_DEPLOYMENT = "backfill/backfill"
FLOWS = ("nightly", "backfill")


def api_url() -> str | None:
    import prefect.settings

    return prefect.settings.PREFECT_API_URL.value() or None


def ui_run_url(flow_run_id: object) -> str | None:
    """The run's page in the Prefect UI, when a server (not the ephemeral backend) is set."""
    import prefect.settings

    ui = prefect.settings.PREFECT_UI_URL.value()
    return f"{ui.rstrip('/')}/runs/flow-run/{flow_run_id}" if ui else None


def run_tags(kind: str, start: date | None = None, end: date | None = None) -> list[str]:
    tags = ["toll", kind]
    if start and end:
        tags.append(f"range:{start}..{end}")
    return tags


def submit_backfill(start: date, end: date) -> dict:
    """Create a run of the `backfill` deployment and return at once; a worker runs it."""
    if not api_url():
        raise TollError(
            "--submit needs a Prefect server: set PREFECT_API_URL (e.g. "
            "http://127.0.0.1:4200/api, see README 'Running on a schedule')"
        )
    from prefect.deployments import run_deployment

    try:
        run = run_deployment(
            BACKFILL_DEPLOYMENT,
            parameters={"start": start.isoformat(), "end": end.isoformat()},
            flow_run_name=f"backfill-{start}..{end}",
            tags=run_tags("backfill", start, end),
            timeout=0,
            as_subflow=False,
        )
    except Exception as exc:  # the server answers 404 before `prefect deploy` ran
        raise TollError(
            f"cannot create a run of deployment '{BACKFILL_DEPLOYMENT}' at {api_url()}: {exc}. "
            "Deploy first: `prefect --no-prompt deploy --all`"
        ) from None
    return {"id": str(run.id), "name": run.name, "state": run.state_name, "url": ui_run_url(run.id)}


def recent_runs(limit: int = 20) -> list[dict]:
    """The latest runs of toll's flows, newest first, from the Prefect API."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        flows = client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(any_=list(FLOWS))))
        names = {f.id: f.name for f in flows}
        if not names:
            return []
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(FLOWS))),
            sort=FlowRunSort.START_TIME_DESC,
            limit=limit,
        )
    rows = []
    for run in runs:
        seconds = run.total_run_time.total_seconds() if run.total_run_time else None
        rows.append(
            {
                "id": str(run.id),
                "flow": names.get(run.flow_id, "?"),
                "name": run.name,
                "state": run.state_name,
                "started": run.start_time.isoformat() if run.start_time else None,
                "seconds": round(seconds, 1) if seconds is not None else None,
                "tags": list(run.tags),
                "message": (run.state.message if run.state else None) or "",
            }
        )
        rows[-1].update(_outcome(rows[-1]["message"], run.state_name))
    return rows


def _outcome(message: str, state: str | None) -> dict:
    """Rows published and gate result, read back from the run's state message."""
    from flows.errors import GateFailed

    rows = re.search(r": ([\d,]+) rows in", message)
    if state == GateFailed.STATE:
        gate = "failed"
    elif found := re.search(r"gate passed: (\d+) expectations, (\d+) warning", message):
        gate = f"passed ({found.group(1)}, {found.group(2)} warnings)"
    elif message.startswith(("nothing changed", "skipped")):
        gate = "not run"
    else:
        gate = ""
    return {"rows_published": rows.group(1) if rows else "", "gate": gate}
