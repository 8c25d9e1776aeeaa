"""A team's toll on two hosts: network namespaces, a warehouse on SeaweedFS, Prefect on
PostgreSQL, one worker per host, no shared warehouse folder.

In order (one module, one story): a nightly on demo data publishes a complete snapshot, its maps
and vintages parsed by `ingest-part` runs on both hosts; a nightly paused while uploading has its
host killed while a backfill waits; the pointer names a complete
snapshot at every poll; the dead run is marked Crashed by the heartbeat automation; the backfill
then completes on the other host and its sweep removes the dead run's orphan prefix, nothing
else; two runs started at once on both hosts, bypassing Prefect: exactly one publishes; a
rollback by pointer is read back by DuckDB.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack

import duckdb
import httpx
import pytest
from helpers import netns_hosts
from helpers.moto_s3 import CREDENTIALS, new_bucket
from helpers.seaweed_s3 import seaweed_server
from helpers.team_server import (
    REPO,
    base_env,
    deployment_run,
    free_port,
    needed,
    postgres_bin,
    postgres_cluster,
    stop,
    toll,
    wait_final,
    wait_healthy,
)

from flows.warehouse.layout import Warehouse
from flows.warehouse.snapshots import METADATA, check_complete, list_snapshots, local_copy
from flows.warehouse.storage import S3Storage

pytestmark = pytest.mark.slow


def _storage(cluster: dict) -> S3Storage:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=cluster["endpoint"],
        region_name=CREDENTIALS["AWS_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return S3Storage(cluster["url"], client=client, cache=cluster["root"] / "test-mirror")


class PointerWatch:
    """Polls `current.json` every 0.5 s; every snapshot it names must be complete."""

    def __init__(self, cluster: dict) -> None:
        self.warehouse = Warehouse(_storage(cluster))
        self.seen: list[str] = []
        self.broken: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                pointer = self.warehouse.storage.read_pointer("current")
                if pointer is None:
                    continue
                if not self.seen or self.seen[-1] != pointer[0]:
                    self.seen.append(pointer[0])
                check_complete(self.warehouse, pointer[0])
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                self.broken.append(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why_not = netns_hosts.available()
    needed(f"root and `ip netns` for several hosts ({why_not})", why_not is None)
    bindir = postgres_bin()
    needed("PostgreSQL (Debian package postgresql)", bindir)
    root = tmp_path_factory.mktemp("hosts")
    with ExitStack() as stack:
        net = stack.enter_context(netns_hosts.hosts(2, root))
        # the shared servers listen on the bridge: from a namespace, 127.0.0.1 is itself
        endpoint = stack.enter_context(seaweed_server(net.gateway))
        url = f"s3://{new_bucket(endpoint)}/wh"
        database_url = stack.enter_context(postgres_cluster(bindir))
        port = free_port(net.gateway)
        api = f"http://{net.gateway}:{port}/api"
        server_env = base_env(
            root / "server-home", PREFECT_API_DATABASE_CONNECTION_URL=database_url
        )
        server_log = stack.enter_context(open(root / "server.log", "w"))
        server = subprocess.Popen(
            [sys.executable, "-m", "flows.cli.app", "server", "start"]
            + ["--host", net.gateway, "--port", str(port)],
            cwd=REPO,
            env=server_env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(stop, server)
        wait_healthy(api, server)
        s3_env = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
        client_env = base_env(root / "client-home", api, TOLL_WAREHOUSE=url, **s3_env)
        client_env["XDG_CACHE_HOME"] = str(root / "client-home" / ".cache")
        toll(client_env, "server", "deploy")
        cluster = {
            "net": net,
            "api": api,
            "url": url,
            "endpoint": endpoint,
            "root": root,
            "client_env": client_env,
            "s3_env": s3_env,
            "workers": {},
        }
        stack.callback(_stop_workers, cluster)
        yield cluster


def _host_env(cluster: dict, host: netns_hosts.Host, **extra: str) -> dict[str, str]:
    """A host's own environment: its HOME, temp folder, Prefect home and demo sources."""
    from flows.s1_sources.samples import write_sample_sources

    sources = host.home / "sources"
    if not sources.exists():
        write_sample_sources(sources)
    env = base_env(
        host.home / "prefect",
        cluster["api"],
        TOLL_PROJECT_DIR=str(REPO),
        TOLL_SOURCE_DIR=str(sources),
        TOLL_VERIFY_CHECKSUMS="false",
        TOLL_WAREHOUSE=cluster["url"],
        PREFECT_WORKER_QUERY_SECONDS="2",
        PREFECT_LOGGING_LEVEL="WARNING",
        **cluster["s3_env"],
        **extra,
    )
    return host.env(env)


def _start_worker(cluster: dict, host: netns_hosts.Host, **extra: str) -> subprocess.Popen:
    log = open(host.home / "worker.log", "a")  # noqa: SIM115 - closed with the worker
    worker = subprocess.Popen(
        host.command(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "toll"]
            # two flow runs at a time per host (its cores): parts go to every host
            + ["--name", f"worker-{host.name}", "--limit", "2"]
        ),
        cwd=host.home,
        env=_host_env(cluster, host, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    cluster["workers"][host.name] = (worker, log)
    return worker


def _kill_host(host: netns_hosts.Host) -> int:
    """SIGKILL every process in the host's namespace (a power cut); returns how many."""
    pids = subprocess.run(
        ["ip", "netns", "pids", host.name], capture_output=True, text=True, timeout=10
    ).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


def _stop_workers(cluster: dict) -> None:
    for worker, log in cluster["workers"].values():
        stop(worker)
        log.close()


def _state(api: str, run_id: str) -> dict:
    return httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()


def _wait_state(api: str, run_id: str, wanted: str, timeout: float) -> dict:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        run = _state(api, run_id)
        if run["state"]["type"] == wanted:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} not {wanted} after {timeout} s: {run['state']}")


def _log(host: netns_hosts.Host) -> str:
    path = host.home / "worker.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def test_two_hosts_share_a_warehouse_on_object_storage(cluster):
    from flows.ops.automations import HEARTBEAT_SECONDS

    api, (one, two) = cluster["api"], cluster["net"].hosts
    heartbeat = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS)}
    watch = PointerWatch(cluster)
    storage = _storage(cluster)
    try:
        # 1. a nightly publishes; its large sources are parsed in parts on both hosts.
        # longest_run_hours 0.01 (36 s) lets a later run sweep a dead run's prefix
        spread = {"TOLL_INGEST_SPREAD_FILES": "40", "TOLL_LONGEST_RUN_HOURS": "0.01"}
        for host in (one, two):
            _start_worker(cluster, host, **spread)
        began = time.monotonic()
        first = wait_final(api, deployment_run(api, "nightly/nightly"), timeout=400)
        assert first["state"]["type"] == "COMPLETED", (first["state"], _log(one), _log(two))
        published = storage.read_pointer("current")
        assert published is not None
        parts = _runs_tagged(api, "ingest-part")
        assert len(parts) >= 6 and all(p["state"]["type"] == "COMPLETED" for p in parts)
        hosts_of_parts = {t for p in parts for t in p["tags"] if t.startswith("host:")}
        assert {_host_tag(h) for h in (one, two)} <= hosts_of_parts, hosts_of_parts
        print(
            f"\nnightly: {time.monotonic() - began:.0f} s, {published[0]}; {len(parts)} ingest "
            f"parts on {sorted(hosts_of_parts)}"
        )

        # 2. a nightly paused while uploading its snapshot; a backfill waits for the slot
        paused = deployment_run(
            api,
            "nightly/nightly",
            {"rebuild": True},
            {"env": {**heartbeat, "TOLL_TEST_PAUSE_AT": "upload"}},
        )
        _wait_state(api, paused, "RUNNING", timeout=180)
        orphan = _wait_orphan(storage, published[0], timeout=180)
        # the host running it dies below; the other one takes the backfill
        tags = set(_state(api, paused)["tags"])
        dead, alive = (one, two) if _host_tag(one) in tags else (two, one)
        assert _host_tag(dead) in tags, tags
        submitted = json.loads(
            toll(
                cluster["client_env"],
                "backfill",
                "--start",
                "2024-01-01",
                "--end",
                "2024-03-31",
                "--submit",
                "--json",
            ).stdout
        )
        backfill = submitted["id"]
        time.sleep(5)
        assert _state(api, backfill)["state"]["type"] in ("SCHEDULED", "PENDING"), (
            "the backfill must wait while the paused nightly holds the publish queue's slot"
        )

        # 3. that host dies: the automation marks its run Crashed, the backfill runs on the other
        killed_at = time.monotonic()
        assert _kill_host(dead) >= 2  # the worker and the paused flow's process at least
        crashed = wait_final(api, paused, timeout=3 * HEARTBEAT_SECONDS + 120)
        assert crashed["state"]["type"] == "CRASHED", crashed["state"]
        assert "no heartbeat" in (crashed["state"]["message"] or "")
        crashed_after = time.monotonic() - killed_at
        done = wait_final(api, backfill, timeout=300)
        assert done["state"]["type"] == "COMPLETED", (done["state"], _log(alive))
        assert _host_tag(alive) in done["tags"]
        after = storage.read_pointer("current")
        assert after is not None and after[0] != published[0]
        print(
            f"host {dead.name} killed: run Crashed after {crashed_after:.0f} s (grace "
            f"{3 * HEARTBEAT_SECONDS} s); backfill completed on {alive.name} as {after[0]}"
        )

        # the sweep removed the orphan prefix and nothing else
        prefixes = _snapshot_prefixes(storage)
        assert orphan not in prefixes
        finished = {m["snapshot"] for m in list_snapshots(Warehouse(storage))}
        assert {published[0], after[0]} <= finished
        assert prefixes == finished, prefixes ^ finished

        # 4. two runs at once, one per host, bypassing Prefect: exactly one publishes
        _stop_workers(cluster)
        cluster["workers"].clear()
        racers = []
        for host in (one, two):
            env = _host_env(cluster, host)
            env.pop("PREFECT_API_URL", None)  # each its own temporary server: no Prefect slot
            racers.append(
                subprocess.Popen(
                    host.command([sys.executable, "-m", "flows.cli.app", "run", "--rebuild"]),
                    cwd=host.home,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = [r.communicate(timeout=300)[0] for r in racers]
        codes = [r.returncode for r in racers]
        assert sorted(codes) == [0, 1], "\n---\n".join([str(codes), *(o[-3000:] for o in outputs)])
        loser = outputs[codes.index(1)]
        assert "another toll run is writing" in loser and "Traceback" not in loser, loser
        raced = storage.read_pointer("current")
        assert raced is not None and raced[0] not in (published[0], after[0])

        # 5. rollback by pointer, read back by DuckDB from a fresh mirror
        toll(cluster["client_env"], "rollback", published[0])
        assert _storage(cluster).read_pointer("current")[0] == published[0]
        reader = Warehouse(_storage(cluster))
        folder = local_copy(reader, published[0])
        meta = json.loads((folder / METADATA).read_text())
        counted = duckdb.sql(
            f"select count(*) from read_parquet('{folder / 'fct_weekly_losses.parquet'}')"
        ).fetchall()[0][0]
        assert counted == meta["tables"]["fct_weekly_losses"] > 0
    finally:
        watch.close()
    assert watch.broken == [], watch.broken
    assert len(watch.seen) >= 3, watch.seen  # it saw the nightly, the backfill, the race


def _host_tag(host: netns_hosts.Host) -> str:
    import socket

    return f"host:{socket.gethostname()}/{host.address}"  # namespaces share the host name


def _runs_tagged(api: str, tag: str) -> list[dict]:
    found = httpx.post(
        f"{api}/flow_runs/filter", json={"flow_runs": {"tags": {"all_": [tag]}}}, timeout=10
    )
    found.raise_for_status()
    return found.json()


def _snapshot_prefixes(storage: S3Storage) -> set[str]:
    return {key.split("/")[1] for key in storage.list("snapshots") if key.count("/") >= 2}


def _wait_orphan(storage: S3Storage, published: str, timeout: float) -> str:
    """The prefix the paused run is uploading: objects under it, no manifest yet."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        keys = storage.list("snapshots")
        names = {k.split("/")[1] for k in keys if k.count("/") >= 2} - {published}
        unfinished = [n for n in names if f"snapshots/{n}/{METADATA}" not in keys]
        if unfinished:
            return unfinished[0]
        time.sleep(1)
    raise AssertionError(f"no unfinished snapshot prefix appeared in {timeout} s")
