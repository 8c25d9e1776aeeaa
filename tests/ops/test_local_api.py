"""Prefect's temporary server boots while a run imports the pipeline (flows/ops/local_api.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.ops import local_api

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from flows.ops import local_api
if sys.argv[1] == "broken":
    import types
    local_api.sys = types.SimpleNamespace(executable="/bin/false")  # the early start fails
ready = local_api.start_local_api()
ready()
from prefect.server.api.server import SubprocessASGIServer
early = SubprocessASGIServer().port if SubprocessASGIServer().running else None
from prefect import flow, get_client
@flow
def one() -> int:
    with get_client(sync_client=True) as client:
        print("api", client.api_url)
    return 1
assert one() == 1
print("early", early)
"""


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("prefect-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PYTHONPATH=str(REPO),
    )
    return env


def _run(env: dict[str, str], mode: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def test_the_flow_runs_on_the_server_booted_early(fresh_env) -> None:
    found = _run(fresh_env, "ok")
    assert found["early"] != "None"
    assert found["api"].rstrip("/") == f"http://127.0.0.1:{found['early']}/api"


def test_a_failed_early_start_leaves_the_flow_its_own_server(fresh_env) -> None:
    found = _run(fresh_env, "broken")
    assert found["early"] == "None"
    assert found["api"].startswith("http://127.0.0.1:")  # Prefect started one itself


def test_nothing_is_started_with_an_api_url(monkeypatch) -> None:
    # the test session runs under Prefect's test harness, which sets the API URL
    def refuse(*args, **kwargs):
        raise AssertionError("a server process was started")

    monkeypatch.setattr(local_api.subprocess, "Popen", refuse)
    local_api.start_local_api()()
