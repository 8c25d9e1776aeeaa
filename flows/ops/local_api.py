"""Boot Prefect's temporary local API while the run imports the pipeline, not after.

Without `PREFECT_API_URL`, the first flow call imports Prefect's server module (1.2 s here) and
only then starts the temporary server (a uvicorn process, 2.5 s more until healthy), while the
run waits: a third of the 5.4 s from `toll run` to its flow's start on the real data. Here the
server process is started first, with the same command and environment Prefect's
`SubprocessASGIServer` uses (prefect 3.9, pinned in constraints.txt), and handed to that object,
which the flow's client then finds running (one per process); the imports happen meanwhile.
With an API URL set (a team server, a worker) nothing is started. If the early start fails, the
object is left unstarted and the flow starts its server as it always did.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def start_local_api() -> Callable[[], None]:
    """Start the temporary server now if this run will need one; returns a function that waits
    until it answers (call it before the flow)."""
    import prefect
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        get_current_settings,
    )

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return lambda: None
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(Path(prefect.__module_path__).parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        env={
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **get_current_settings().to_environment_variables(exclude_unset=True),
        },
    )
    timeout = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()

    def hand_over() -> None:
        import httpx
        from prefect.server.api.server import SubprocessASGIServer

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            process.kill()  # not up in time, or exited (its port taken): the flow starts one
            process.wait()
            return
        server = SubprocessASGIServer()
        if server.running:  # started meanwhile by someone else: keep theirs
            process.kill()
            process.wait()
            return
        server.port, server.server_process, server.running = port, process, True
        atexit.register(server.stop)

    thread = threading.Thread(target=hand_over, name="toll-local-api", daemon=True)
    thread.start()
    return thread.join


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
