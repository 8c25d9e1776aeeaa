"""Server-side safety nets that `toll server deploy` creates: runs whose host died are marked
Crashed, and a crashed run alerts the webhook.

The flows' `on_failure` hook alerts on a failed run, but a run whose process was killed (or
whose host died) runs no hook: only the Prefect server can notice it. Two automations do:

- *toll: silent runs crash*: a flow run that stopped sending heartbeats (every
  `HEARTBEAT_SECONDS`, set for the deployments in prefect.yaml) for `grace` seconds is set to
  Crashed, so the pool's concurrency slot is freed and the next run can start;
- *toll: alert on crashed runs*: a flow run entering Crashed (by the worker, or by the first
  automation) POSTs to the `alert_webhook`, like the hook does for Failed runs.

Both are replaced on each deploy (matched by name), so a changed webhook or grace takes effect.
"""

from __future__ import annotations

import json
from datetime import timedelta

HEARTBEAT_SECONDS = 30  # Prefect refuses to start a worker with a frequency under 30 s
SILENT_RUNS = "toll: silent runs crash"
CRASH_ALERT = "toll: alert on crashed runs"
WEBHOOK_BLOCK = "toll-alert-webhook"
FINAL_EVENTS = {
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
}
# What a chat webhook shows (`text`) and the facts, as the on_failure hook sends them.
PAYLOAD = json.dumps(
    {
        "text": "toll run {{ flow_run.name }} crashed: {{ flow_run.state.message }}",
        "run_name": "{{ flow_run.name }}",
        "run_id": "{{ flow_run.id }}",
        "state": "Crashed",
        "failed_step": "flow (the run's process or host stopped)",
    }
)


def ensure_automations(webhook: str | None, grace: int = 3 * HEARTBEAT_SECONDS) -> list[str]:
    """Create (or replace) toll's automations on the server at PREFECT_API_URL; their names."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import CallWebhook, ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    runs = ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]})
    wanted = [
        Automation(
            name=SILENT_RUNS,
            description=f"a flow run without a heartbeat for {grace} s is marked Crashed",
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"},
                expect={"prefect.flow-run.heartbeat", *FINAL_EVENTS},
                match=runs,
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=grace),
            ),
            actions=[
                ChangeFlowRunState(
                    state=StateType.CRASHED,
                    message=f"no heartbeat for {grace} s: its process or host stopped",
                )
            ],
        )
    ]
    if webhook:
        wanted.append(
            Automation(
                name=CRASH_ALERT,
                description="a crashed flow run POSTs to toll's alert_webhook",
                trigger=EventTrigger(
                    expect={"prefect.flow-run.Crashed"},
                    match=runs,
                    posture=Posture.Reactive,
                    threshold=1,
                ),
                actions=[CallWebhook(block_document_id=_webhook_block(webhook), payload=PAYLOAD)],
            )
        )
    names = {a.name for a in wanted} | {CRASH_ALERT}
    for name in names:
        _delete_named(name)
    return [automation.create().name for automation in wanted]


def _webhook_block(url: str):
    from prefect.blocks.webhook import Webhook

    # allow_private_urls: a team's chat relay (or a test's receiver) may live on the LAN
    block = Webhook(method="POST", url=url, allow_private_urls=True)
    return block.save(WEBHOOK_BLOCK, overwrite=True)


def _delete_named(name: str) -> None:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        for automation in client.read_automations_by_name(name):
            client.delete_automation(automation.id)
