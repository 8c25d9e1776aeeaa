"""Prefect's temporary server boots before a run imports Prefect (flows/ops/local_api.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.ops import local_api

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import subprocess, sys, types
from flows.ops import local_api
real = subprocess.Popen
seen = []
def popen(*args, **kwargs):
    if not seen and "uvicorn" in str(args[0] if args else kwargs.get("args")):
        seen.append(1)
        print("prefect-imported-at-start", "prefect" in sys.modules)
    return real(*args, **kwargs)
subprocess.Popen = popen
if sys.argv[1] == "broken":
    local_api.sys = types.SimpleNamespace(executable="/bin/false", modules=sys.modules)
api = local_api.start_local_api()
from prefect import flow, get_client, task
@task
def step(i: int) -> int:
    return i
@flow
def one() -> int:
    with get_client(sync_client=True) as client:
        print("api", client.api_url)
    return sum(step(i) for i in range(12))
with api.serving():
    assert one() == 66
print("early", api.url)
print("server-module-imported", "prefect.server.api.server" in sys.modules)
print("stopped", None if api.process is None else api.process.poll() is not None)
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


def _run(env: dict[str, str], mode: str, cwd: Path = REPO, script: str = SCRIPT) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, mode],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def test_the_flow_runs_on_the_server_booted_before_prefect_is_imported(fresh_env) -> None:
    found = _run(fresh_env, "ok")
    assert found["prefect-imported-at-start"] == "False"
    assert found["early"].startswith("http://127.0.0.1:")
    assert found["api"].rstrip("/") == found["early"]
    # pointed at the early server by its URL: this process never loads Prefect's server code
    assert found["server-module-imported"] == "False"
    assert found["stopped"] == "False"  # serves until the process exits


def test_a_failed_early_start_leaves_the_flow_its_own_server(fresh_env) -> None:
    found = _run(fresh_env, "broken")
    assert found["early"] == "None"
    assert found["server-module-imported"] == "True"
    assert found["stopped"] == "True"
    assert found["api"].startswith("http://127.0.0.1:")  # Prefect started one itself


def test_nothing_is_started_with_an_api_url(monkeypatch) -> None:
    # the test session runs under Prefect's test harness, which sets the API URL
    def refuse(*args, **kwargs):
        raise AssertionError("a server process was started")

    monkeypatch.setattr(local_api.subprocess, "Popen", refuse)
    api = local_api.start_local_api()
    with api.serving():
        assert api.process is None and api.url is None


NO_FLOW = """
import subprocess, sys
from flows.ops import local_api
api = local_api.start_local_api()
with api.serving():
    pass
print("spawned", api.process is not None)
print("stopped", None if api.process is None else api.process.poll() is not None)
print("url", api.url)
"""


def test_an_api_url_in_the_active_profile_starts_nothing(fresh_env, tmp_path) -> None:
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        'active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n'
    )
    env = {**fresh_env, "PREFECT_PROFILES_PATH": str(profiles)}
    found = _run(env, "-", script=NO_FLOW)
    assert found == {"spawned": "False", "stopped": "None", "url": "None"}


def test_an_api_url_only_prefect_finds_stops_the_early_server(fresh_env, tmp_path) -> None:
    # a prefect.toml in the working folder: read by Prefect, not by the early check
    (tmp_path / "prefect.toml").write_text('[api]\nurl = "http://127.0.0.1:9/api"\n')
    found = _run(fresh_env, "-", cwd=tmp_path, script=NO_FLOW)
    assert found == {"spawned": "True", "stopped": "True", "url": "None"}


STOPPED = """
import sys
from flows.ops import local_api
api = local_api.start_local_api()
api.stop()
print("spawned", api.process is not None)
print("stopped", api.process.poll() is not None)
print("thread-alive", api.thread.is_alive())
print("prefect-imported", "prefect" in sys.modules)
"""


def test_a_server_stopped_unused_leaves_no_thread_running(fresh_env) -> None:
    # an unchanged run stops the server at once; its waiting thread imported Prefect and could
    # still be inside OpenSSL when the process exited (SIGSEGV or SIGABRT after the run's work)
    found = _run(fresh_env, "-", script=STOPPED)
    assert found == {
        "spawned": "True",
        "stopped": "True",
        "thread-alive": "False",
        "prefect-imported": "False",
    }


WARM_AT_EXIT = """
import atexit
def last():  # registered first, so run last of the exit handlers
    print("alive-at-exit", thread.is_alive(), flush=True)
atexit.register(last)
from flows.pipeline.run import warm_imports
thread = warm_imports()
print("alive-at-start", thread.is_alive())
print("once-per-process", warm_imports() is thread)
"""


def test_the_warm_import_thread_is_waited_for_at_exit(fresh_env) -> None:
    # a run failing within a second exits while GX is being imported: never under that thread
    found = _run(fresh_env, "-", script=WARM_AT_EXIT)
    assert found == {
        "alive-at-start": "True",
        "once-per-process": "True",  # a backfill's days add no thread or exit handler
        "alive-at-exit": "False",
    }
