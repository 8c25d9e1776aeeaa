"""Team setup end to end: PostgreSQL, Prefect server, deployments, a worker; a nightly run and a
backfill through the API; a late run skipped; the history; the UI in headless Chromium."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from helpers.team_server import (
    REPO,
    WebhookReceiver,
    artifacts_of,
    base_env,
    deployment_run,
    descendants,
    free_port,
    history,
    needed,
    postgres_bin,
    postgres_cluster,
    stop,
    toll,
    wait_final,
    wait_healthy,
)

from flows.warehouse.snapshots import METADATA, current_snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team(real_data, tmp_path_factory):
    """PostgreSQL + Prefect server + deployments + one worker; yields what tests need."""
    bindir = postgres_bin()
    needed("PostgreSQL (Debian package postgresql)", bindir)
    root = tmp_path_factory.mktemp("team")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    warehouse = root / "warehouse"
    with postgres_cluster(bindir) as database_url:
        server_env = base_env(
            root / "server-home",
            PREFECT_API_DATABASE_CONNECTION_URL=database_url,
            PREFECT_SERVER_API_HOST="127.0.0.1",
            PREFECT_SERVER_API_PORT=str(port),
        )
        server_log = open(root / "server.log", "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "flows.cli.app", "server", "start", "--port", str(port)],
            cwd=REPO,
            env=server_env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        worker = None
        try:
            startup = wait_healthy(api, server)
            client_env = base_env(root / "client-home", api)
            toll(client_env, "server", "deploy")
            worker_env = base_env(
                root / "worker-home",
                api,
                TOLL_PROJECT_DIR=str(REPO),
                TOLL_SOURCE_DIR=str(real_data),
                TOLL_WAREHOUSE=str(warehouse),
                PREFECT_WORKER_QUERY_SECONDS="2",
                PREFECT_LOGGING_LEVEL="WARNING",
            )
            worker_log = open(root / "worker.log", "w")
            worker = subprocess.Popen(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "toll"],
                cwd=root,
                env=worker_env,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
            )
            yield {
                "api": api,
                "ui": f"http://127.0.0.1:{port}",
                "env": client_env,
                "warehouse": warehouse,
                "root": root,
                "startup_seconds": startup,
                "worker": worker,
            }
        finally:
            if worker is not None:
                stop(worker)
            stop(server)


@pytest.fixture(scope="module")
def runs(team):
    """A nightly run and a backfill, both run by the worker; their API records."""
    api = team["api"]
    started = time.monotonic()
    nightly = wait_final(api, deployment_run(api, "nightly/nightly"))
    nightly_wall = time.monotonic() - started
    assert nightly["state"]["type"] == "COMPLETED", nightly["state"]
    nightly_snapshot = current_snapshot(team["warehouse"])
    submitted = json.loads(
        toll(
            team["env"],
            "backfill",
            "--start",
            "2024-01-01",
            "--end",
            "2024-03-31",
            "--submit",
            "--json",
        ).stdout
    )
    backfill = wait_final(api, submitted["id"])
    assert backfill["state"]["type"] == "COMPLETED", backfill["state"]
    print(
        f"\nPostgreSQL server: startup {team['startup_seconds']:.1f} s; nightly run "
        f"{nightly['total_run_time']:.1f} s in the flow, {nightly_wall:.1f} s from submit to "
        f"Completed; backfill {backfill['total_run_time']:.1f} s"
    )
    return {"nightly": nightly, "backfill": backfill, "nightly_snapshot": nightly_snapshot}


def _parquet_hashes(snapshot: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in snapshot.glob("*.parquet")}


def test_nightly_and_backfill_through_the_api_publish_the_tables(team, runs):
    nightly, backfill = runs["nightly"], runs["backfill"]
    assert nightly["name"].startswith("nightly-")
    assert backfill["name"].startswith("backfill-2024-01-01..2024-03-31-")
    assert {"toll", "backfill", "range:2024-01-01..2024-03-31"} <= set(backfill["tags"])
    assert "gate passed" in backfill["state"]["message"]

    snapshot = current_snapshot(team["warehouse"])
    assert snapshot != runs["nightly_snapshot"]
    meta = json.loads((snapshot / METADATA).read_text())
    assert meta["run"]["flow_run_id"] == backfill["id"]
    assert meta["backfill"]["weeks"] == ["2024-01-01", "2024-03-25"]
    assert meta["tables"]["fct_weekly_losses"] > 200
    # no source changed between the two runs: the weeks rebuilt are the ones published
    assert _parquet_hashes(snapshot) == _parquet_hashes(runs["nightly_snapshot"])

    keys = {a["key"] for a in artifacts_of(team["api"], backfill["id"])}
    assert {"toll-run-summary", "toll-expectations", "toll-data-docs"} <= keys


def test_a_late_scheduled_nightly_is_skipped_and_history_tells(team, runs):
    api = team["api"]
    due = (datetime.now(UTC) - timedelta(days=1)).replace(hour=2, minute=0, second=0)
    late = wait_final(
        api,
        deployment_run(
            api,
            "nightly/nightly",
            type="SCHEDULED",
            state_details={"scheduled_time": due.isoformat()},
        ),
        timeout=300,
    )
    assert late["state"]["type"] == "COMPLETED"
    assert late["state"]["name"] == "Skipped"
    assert late["state"]["message"].startswith("skipped:")
    assert runs["nightly"]["name"] in late["state"]["message"]
    assert late["name"].startswith(f"nightly-{due.date()}-")

    listed = {r["name"]: r for r in history(team["env"])}
    assert listed[runs["backfill"]["name"]]["gate"].startswith("passed")
    assert listed[runs["nightly"]["name"]]["rows_published"]
    assert listed[late["name"]]["state"] == "Skipped"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browse(
    url: str, *args: str, profile: Path, budget: int = 20000
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1400,900",
            f"--virtual-time-budget={budget}",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def _rendered(url: str, needles: list[str], tmp_path: Path) -> str:
    """The page's DOM once the app has rendered `needles`; on a busy machine the single-page app
    may need more than one load (each try gets more time)."""
    dom = ""
    for attempt, budget in enumerate((20000, 40000, 60000, 90000)):
        dom = _browse(url, "--dump-dom", profile=tmp_path / f"dom-{attempt}", budget=budget).stdout
        if all(n in dom for n in needles):
            break
    return dom


def test_prefect_ui_shows_both_runs_and_the_summary_in_chromium(team, runs, tmp_path):
    needed("Chromium (Debian package chromium)", _chromium())
    ui = team["ui"]
    page = _rendered(f"{ui}/runs", [runs["nightly"]["name"], runs["backfill"]["name"]], tmp_path)
    assert runs["nightly"]["name"] in page
    assert runs["backfill"]["name"] in page
    # runs are told apart by their state's name: both of these published
    assert runs["nightly"]["state"]["name"] == runs["backfill"]["state"]["name"] == "Published"
    assert "Published" in page

    summary = next(
        a
        for a in artifacts_of(team["api"], runs["backfill"]["id"])
        if a["key"] == "toll-run-summary"
    )
    artifact_page = f"{ui}/artifacts/artifact/{summary['id']}"
    shown = _rendered(artifact_page, ["Rows published"], tmp_path)
    assert "backfill 2024-01-01..2024-03-31" in shown
    assert "Rows published" in shown

    out = Path(os.environ.get("TOLL_TEST_OUTPUT", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    run_page = f"{ui}/runs/flow-run/{runs['backfill']['id']}"
    for name, url in (
        ("runs", f"{ui}/runs"),
        ("backfill-run", run_page),
        ("summary", artifact_page),
    ):
        picture = out / f"prefect-ui-{name}.png"
        _browse(url, f"--screenshot={picture}", profile=tmp_path / f"s-{name}", budget=40000)
        assert picture.exists() and picture.stat().st_size > 10_000, f"no screenshot of {url}"
        print(f"screenshot: {picture}")


def test_killed_runs_end_crashed_and_alert_the_webhook(team, runs):
    """Last in this module: it kills the worker. A run whose process is killed is reported
    Crashed by the worker; a run whose worker and process are killed (a dead host) is marked
    Crashed by the heartbeat automation; both POST to the webhook (no flow hook runs)."""
    from flows.ops.automations import CRASH_ALERT, HEARTBEAT_SECONDS, SILENT_RUNS

    api = team["api"]
    receiver = WebhookReceiver()
    try:
        env = {**team["env"], "TOLL_ALERT_WEBHOOK": receiver.url}
        deployed = toll(env, "server", "deploy").stdout
        assert SILENT_RUNS in deployed and CRASH_ALERT in deployed
        heartbeat = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS)}

        # the flow's process is killed (kill -9 at the gate): the worker sees it die
        killed = deployment_run(
            api,
            "nightly/nightly",
            {"rebuild": True},
            {"env": {**heartbeat, "TOLL_TEST_CRASH_AT": "validation"}},
        )
        assert wait_final(api, killed, timeout=300)["state"]["type"] == "CRASHED"
        name = httpx.get(f"{api}/flow_runs/{killed}", timeout=10).json()["name"]
        alert = json.loads(receiver.wait_for(name, timeout=90))
        assert alert["state"] == "Crashed" and name in alert["text"]

        # the host dies: the worker and then the flow's process are killed mid-run
        silent = deployment_run(api, "nightly/nightly", {"rebuild": True}, {"env": heartbeat})
        started = time.monotonic()
        while httpx.get(f"{api}/flow_runs/{silent}", timeout=10).json()["state"]["type"] != (
            "RUNNING"
        ):
            assert time.monotonic() - started < 180, "the run never started"
            time.sleep(0.5)
        time.sleep(3)  # its first heartbeat is sent as the flow starts
        worker = team["worker"]
        below = descendants(worker.pid)
        worker.kill()
        worker.wait(timeout=30)
        for pid in below:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert httpx.get(f"{api}/flow_runs/{silent}", timeout=10).json()["state"]["type"] == (
            "RUNNING"
        ), "nothing may mark the run before the automation's grace"
        final = wait_final(api, silent, timeout=3 * HEARTBEAT_SECONDS + 120)
        assert final["state"]["type"] == "CRASHED", final["state"]
        assert "no heartbeat" in (final["state"]["message"] or "")
        name = final["name"]
        assert name in json.loads(receiver.wait_for(name, timeout=90))["text"]
        print(
            f"\nhost killed: run marked Crashed {time.monotonic() - started:.0f} s after it "
            f"started (grace {3 * HEARTBEAT_SECONDS} s), alert received"
        )
    finally:
        receiver.close()
