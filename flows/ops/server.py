"""A local Prefect server for toll and its deployments: `toll server start|deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flows.errors import TollError

REPO = Path(__file__).resolve().parents[2]
WORK_POOL = "toll"
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


def deploy(pool_limit: int = 1, webhook: str | None = None) -> list[str]:
    """Create the `toll` process work pool (idempotent), deploy every prefect.yaml entry and
    create the automations (crashed runs marked and alerted); returns the automations' names."""
    env = quiet_env()
    if not env.get("PREFECT_API_URL"):
        raise TollError(
            "deploying needs a Prefect server: set PREFECT_API_URL (e.g. "
            "http://127.0.0.1:4200/api after `toll server start`)"
        )
    steps = [
        [*PREFECT, "work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"],
        [*PREFECT, "work-pool", "set-concurrency-limit", WORK_POOL, str(pool_limit)],
        [*PREFECT, "--no-prompt", "deploy", "--all"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=REPO, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            error = TollError(
                f"`prefect {' '.join(step[3:])}` failed:\n{done.stdout}\n{done.stderr}"
            )
            error.multiline = True  # the subprocess's own output, as it printed it
            raise error
    from flows.ops.automations import ensure_automations

    try:
        return ensure_automations(webhook)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        raise TollError(
            f"could not create the automations on {env['PREFECT_API_URL']}: {exc}"
        ) from None
