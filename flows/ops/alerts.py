"""A failed run tells someone: a JSON POST to the configured webhook (`alert_webhook`).

The body carries `text` (what chat webhooks such as Slack's and Mattermost's display) and the
same facts as fields: flow, run name and id, the step or gate that failed, the state message and
a link to the run in the Prefect UI when a server is set.
"""

from __future__ import annotations

import logging

import httpx

logger = logging.getLogger("toll.alerts")


def failed_step(flow_run_id: object, state_name: str | None) -> str:
    """The gate when the quality gate failed, else the names of the task runs that failed."""
    from flows.errors import GateFailed

    if state_name == GateFailed.STATE:
        return "validate (quality gate)"
    try:
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        with get_client(sync_client=True) as client:
            tasks = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
        failed = sorted(t.name for t in tasks if t.state and t.state.is_failed())
    except Exception:  # the alert must go out even when the API cannot say more
        failed = []
    return ", ".join(failed) or "flow"


def alert_payload(flow_name: str, flow_run, state) -> dict:
    from flows.ops.operations import ui_run_url

    message = (state.message or "").strip()
    step = failed_step(flow_run.id, state.name)
    url = ui_run_url(flow_run.id)
    first_line = message.splitlines()[0] if message else ""
    text = f"toll run {flow_run.name} failed at {step}: {first_line}"
    return {
        "text": text + (f" {url}" if url else ""),
        "flow": flow_name,
        "run_name": flow_run.name,
        "run_id": str(flow_run.id),
        "state": state.name,
        "failed_step": step,
        "message": message,
        "url": url,
    }


def send_alert(webhook: str, payload: dict, timeout: float = 10.0) -> bool:
    """POST the alert; a webhook that is down is logged, never a second failure."""
    try:
        response = httpx.post(webhook, json=payload, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        logger.error("alert to %s failed: %s", webhook, exc)
        return False
    return True


def _webhook(flow_run) -> str | None:
    from flows.config import load_settings

    given = (flow_run.parameters or {}).get("settings")
    if isinstance(given, dict) and given.get("alert_webhook"):
        return given["alert_webhook"]
    if given is not None and getattr(given, "alert_webhook", None):
        return given.alert_webhook
    try:
        return load_settings().alert_webhook
    except Exception:
        return None


def alert_on_failure(flow, flow_run, state) -> None:
    """Prefect `on_failure` hook of the nightly and backfill flows."""
    webhook = _webhook(flow_run)
    if webhook:
        send_alert(webhook, alert_payload(flow.name, flow_run, state))
