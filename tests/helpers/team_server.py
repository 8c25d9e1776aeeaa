"""The team setup, for real: a private PostgreSQL cluster on loopback, a Prefect server on it, the
deployments, one process worker. Each piece stops when the test is done."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def needed(what: str, found: object) -> None:
    """Skip when `what` is missing here; under CI (`CI=true`) fail instead: CI installs it."""
    if not found:
        import pytest

        message = f"{what} not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def free_port(ip: str = "127.0.0.1") -> int:
    """A port free on `ip`, the address the server will listen on: one free on loopback may be
    taken on a bridge address (SeaweedFS listens there on ten ports), and a server on the
    bridge exited with "Port ... is already in use" in one CI run."""
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres_cluster(bindir: Path):
    """A throwaway cluster on 127.0.0.1; yields the asyncpg URL of database `prefect`."""
    root = Path(tempfile.mkdtemp(prefix="toll-pg-"))
    root.chmod(0o755)
    data = root / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    run = lambda *cmd: subprocess.run(  # noqa: E731
        _as_postgres(list(cmd)), check=True, capture_output=True, text=True, timeout=120
    )
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "toll", "-E", "UTF8")
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            f"-p {port} -h 127.0.0.1 -k {root}",
            "start",
        )
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "toll", "prefect")
        yield f"postgresql+asyncpg://toll@127.0.0.1:{port}/prefect"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def base_env(home: Path, api: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "TOLL_")) or k == "TOLL_TEST_DATA"
    }
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_CLI_PROMPT="false",
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )
    if api:
        env["PREFECT_API_URL"] = api
    env.update(extra)
    return env


def wait_healthy(api: str, process: subprocess.Popen, timeout: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"prefect server at {api} not healthy after {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def toll(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli.app", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"toll {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def wait_final(api: str, run_id: str, timeout: float = 600) -> dict:
    """Poll the run until it is in a final state; return it."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(1)
    raise TimeoutError(f"run {run_id} not finished after {timeout} s")


def deployment_run(
    api: str,
    name: str,
    parameters: dict | None = None,
    job_variables: dict | None = None,
    **state,
) -> str:
    deployment = httpx.get(f"{api}/deployments/name/{name}", timeout=10).json()
    body: dict = {"parameters": parameters or {}}
    if job_variables:
        body["job_variables"] = job_variables
    if state:
        body["state"] = state
    created = httpx.post(
        f"{api}/deployments/{deployment['id']}/create_flow_run", json=body, timeout=10
    )
    created.raise_for_status()
    return created.json()["id"]


def artifacts_of(api: str, run_id: str) -> list[dict]:
    found = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [run_id]}}},
        timeout=10,
    )
    found.raise_for_status()
    return found.json()


def history(env: dict[str, str]) -> list[dict]:
    return json.loads(toll(env, "history", "--json").stdout)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class WebhookReceiver:
    """A chat webhook on loopback: records every JSON body POSTed to it."""

    def __init__(self) -> None:
        import http.server
        import threading

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(body.decode("utf-8", "replace"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, text: str, timeout: float) -> str:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            for body in self.received:
                if text in body:
                    return body
            time.sleep(1)
        raise TimeoutError(f"no alert naming {text!r} in {timeout} s: got {self.received}")

    def close(self) -> None:
        self.server.shutdown()
