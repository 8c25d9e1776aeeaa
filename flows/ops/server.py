"""A local Prefect server for toll and its deployments: `toll server start|deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flows.errors import TollError

REPO = Path(__file__).resolve().parents[2]
WORK_POOL = "toll"
# Queues of the pool: runs that publish wait for each other (one at a time, across every host
# of the pool); `ingest-part` runs (flows/pipeline/spread.py) run side by side, also while the
# run that called them holds the publish slot. A pool-wide limit of 1 would deadlock them.
QUEUES = {"publish": 1, "ingest": None}
# the prefect of this environment, also when its bin/ is not on PATH
PREFECT = [sys.executable, "-m", "prefect"]


def quiet_env(**extra: str) -> dict[str, str]:
    """The environment for Prefect commands: telemetry off (no network here), never prompt."""
    return {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_CLI_PROMPT": "false",
        **extra,
    }


def start_command(host: str = "127.0.0.1", port: int = 4200) -> list[str]:
    return [*PREFECT, "server", "start", "--host", host, "--port", str(port), "--analytics-off"]


def deploy(webhook: str | None = None) -> list[str]:
    """Create the `toll` process work pool and its queues (idempotent), deploy every
    prefect.yaml entry and create the automations (crashed runs marked and alerted); returns
    the automations' names."""
    env = quiet_env()
    if not env.get("PREFECT_API_URL"):
        raise TollError(
            "deploying needs a Prefect server: set PREFECT_API_URL (e.g. "
            "http://127.0.0.1:4200/api after `toll server start`)"
        )
    steps = [
        [*PREFECT, "work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"],
        # a pool deployed by an earlier toll had a limit of 1: it now lives on the queue
        [*PREFECT, "work-pool", "clear-concurrency-limit", WORK_POOL],
    ]
    for step in steps:
        _prefect(step, env)
    try:
        ensure_queues()
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        raise TollError(
            f"could not create the work queues on {env['PREFECT_API_URL']}: {exc}"
        ) from None
    _prefect([*PREFECT, "--no-prompt", "deploy", "--all"], env)
    from flows.ops.automations import ensure_automations

    try:
        return ensure_automations(webhook)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        raise TollError(
            f"could not create the automations on {env['PREFECT_API_URL']}: {exc}"
        ) from None


def _prefect(step: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(step, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        error = TollError(f"`prefect {' '.join(step[3:])}` failed:\n{done.stdout}\n{done.stderr}")
        error.multiline = True  # the subprocess's own output, as it printed it
        raise error


def ensure_queues() -> list[str]:
    """The pool's queues with their limits (`QUEUES`), created or updated; returns their names."""
    from prefect import get_client
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        for name, limit in QUEUES.items():
            try:
                client.create_work_queue(
                    name=name, work_pool_name=WORK_POOL, concurrency_limit=limit
                )
            except ObjectAlreadyExists:
                queue = client.read_work_queue_by_name(name, work_pool_name=WORK_POOL)
                client.update_work_queue(queue.id, concurrency_limit=limit)
    return list(QUEUES)
