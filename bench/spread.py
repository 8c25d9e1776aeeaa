"""Issue 20's spread measurement: the nightly deployment over 1x tables and N daily maps on a
SeaweedFS bucket, its maps cut into `ingest-part` runs, first with one worker, then with two
(a fresh bucket, the same data and servers).

The team setup of the tests, reused (tests/helpers): a Prefect server on PostgreSQL (SQLite when
PostgreSQL is not installed) with the deployments of `toll server deploy`; each worker is a host
in its own network namespace (plain processes when not root) with its own HOME, TMPDIR and
PREFECT_HOME. Measured from the server's run records: the nightly's wall time, the time from its
start until its last part ended, and which host ran which part.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import httpx

from bench.generate import generate

ROOT = Path(__file__).resolve().parent.parent
# the bench's own bridge subnet (10.231.<net>.0/24): not the several-hosts test's (0), so both
# can run at once on this machine
NET = 7
RUN_TIMEOUT_S = 1800.0
WORKERS_READY_S = 120.0


def run_spread(days: int, args: argparse.Namespace) -> dict:
    """The nightly with one worker, then two; their figures, ratios and whether they published
    the same tables."""
    sys.path.insert(0, str(ROOT / "tests"))  # the test suite's team-setup helpers
    from helpers import netns_hosts
    from helpers.moto_s3 import CREDENTIALS, new_bucket
    from helpers.seaweed_s3 import seaweed_server
    from helpers.team_server import (
        base_env,
        free_port,
        postgres_bin,
        postgres_cluster,
        stop,
        toll,
        wait_healthy,
    )

    folder = args.out / "spread"
    source_dir, facts = _data(days, folder / "sources", args)
    root = folder / "run"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    measured: dict = {
        "maps": days,
        "ingest_spread_files": args.spread_files,
        "worker_limit": args.worker_limit,
        "workers": args.spread_workers,
        "data": facts,
        "runs": {},
    }
    most = max(args.spread_workers)
    with ExitStack() as stack:
        why_not = netns_hosts.available()
        if why_not is None:
            net = stack.enter_context(netns_hosts.hosts(most, root / "net", net=NET))
            gateway, hosts = net.gateway, net.hosts
            measured["hosts"] = "network namespaces (one per worker, veth to a bridge)"
        else:
            gateway = "127.0.0.1"
            hosts = [
                PlainHost(f"plain-{n}", gateway, root / f"plain-{n}") for n in range(1, most + 1)
            ]
            measured["hosts"] = f"plain processes on loopback ({why_not}): one host tag"
        endpoint = stack.enter_context(seaweed_server(gateway))
        bindir = postgres_bin()
        database = {}
        if bindir:
            url = stack.enter_context(postgres_cluster(bindir))
            database = {"PREFECT_API_DATABASE_CONNECTION_URL": url}
        measured["prefect_database"] = "postgresql" if bindir else "sqlite"
        port = free_port()
        api = f"http://{gateway}:{port}/api"
        server_log = stack.enter_context(open(root / "server.log", "w"))
        server = subprocess.Popen(
            [sys.executable, "-m", "flows.cli.app", "server", "start"]
            + ["--host", gateway, "--port", str(port)],
            cwd=ROOT,
            env=base_env(root / "server-home", **database),
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(stop, server)
        wait_healthy(api, server)
        s3_env = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
        client_env = base_env(root / "client-home", api, **s3_env)
        client_env["XDG_CACHE_HOME"] = str(root / "client-home" / ".cache")
        toll(client_env, "server", "deploy")
        published = {}
        for count in args.spread_workers:
            bucket = f"s3://{new_bucket(endpoint)}/wh"
            run = Run(api, bucket, s3_env, source_dir, facts, args)
            here = [replace(h, home=root / f"{count}-worker" / h.name) for h in hosts[:count]]
            measured["runs"][str(count)] = run.measure(here)
            if measured["runs"][str(count)]["status"] == "ok":
                from bench.harness import _published_on_bucket

                published[count] = _published_on_bucket(bucket, endpoint, CREDENTIALS)
    measured.update(compare(measured["runs"], published))
    return measured


@dataclass(frozen=True)
class PlainHost:
    """A worker "host" without a namespace: its own folders, the machine's network."""

    name: str
    address: str
    home: Path

    def command(self, argv: list[str]) -> list[str]:
        return argv

    def env(self, base: dict[str, str]) -> dict[str, str]:
        home = self.home
        return {
            **base,
            "HOME": str(home),
            "TMPDIR": str(home / "tmp"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }


class Run:
    """One nightly from the deployment, on a fresh bucket, with the given hosts' workers."""

    def __init__(
        self,
        api: str,
        bucket: str,
        s3_env: dict[str, str],
        source_dir: Path,
        facts: dict,
        args: argparse.Namespace,
    ) -> None:
        self.api, self.bucket, self.s3_env = api, bucket, s3_env
        self.source_dir, self.facts, self.args = source_dir, facts, args

    def measure(self, hosts: list) -> dict:
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers.team_server import deployment_run, wait_final

        workers = []
        try:
            for host in hosts:
                workers.append(self._start_worker(host))
            self._wait_workers({self._worker_name(h) for h in hosts}, workers)
            before = {p["id"] for p in runs_tagged(self.api, "ingest-part")}
            load = os.getloadavg()[0]
            began = time.monotonic()
            run_id = deployment_run(
                self.api, "nightly/nightly", {"run_date": self.facts["run_date"]}
            )
            try:
                nightly = wait_final(self.api, run_id, timeout=RUN_TIMEOUT_S)
            except TimeoutError as exc:
                return {"status": "failed", "error": str(exc), "logs": _tails(hosts)}
            wall = time.monotonic() - began
        finally:
            for worker, log in workers:
                _stop_tree(worker)
                log.close()
        parts = [p for p in runs_tagged(self.api, "ingest-part") if p["id"] not in before]
        figures = summarise(nightly, parts)
        figures.update(wall_s=round(wall, 2), load_1m_before=round(load, 2), workers=len(hosts))
        figures["hosts"] = {h.name: h.address for h in hosts}
        if figures["status"] != "ok":
            figures["logs"] = _tails(hosts)
        return figures

    def _worker_name(self, host) -> str:
        return f"bench-{host.home.parent.name}-{host.name}"  # unique per run: 1-worker-h..

    def _start_worker(self, host) -> tuple[subprocess.Popen, object]:
        from helpers.team_server import base_env

        (host.home / "tmp").mkdir(parents=True, exist_ok=True)
        env = base_env(
            host.home / "prefect",
            self.api,
            TOLL_PROJECT_DIR=str(ROOT),
            TOLL_SOURCE_DIR=str(self.source_dir),
            TOLL_CATALOGUE=str(self.source_dir / "sources.toml"),
            # generated files carry no checksum pins
            TOLL_VERIFY_CHECKSUMS="false",
            TOLL_WAREHOUSE=self.bucket,
            TOLL_INGEST_SPREAD_FILES=str(self.args.spread_files),
            PREFECT_WORKER_QUERY_SECONDS="2",
            PREFECT_LOGGING_LEVEL="WARNING",
            **self.s3_env,
        )
        log = open(host.home / "worker.log", "a")  # noqa: SIM115 - closed with the worker
        worker = subprocess.Popen(
            host.command(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "toll"]
                + ["--name", self._worker_name(host), "--limit", str(self.args.worker_limit)]
            ),
            cwd=host.home,
            env=host.env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its flow runs with it: stopped as a group
        )
        return worker, log

    def _wait_workers(self, names: set[str], workers: list) -> None:
        """Until this run's workers poll the pool: their start-up is not the run's time."""
        deadline = time.monotonic() + WORKERS_READY_S
        while time.monotonic() < deadline:
            for worker, _ in workers:
                if worker.poll() is not None:
                    raise RuntimeError(f"a worker exited with {worker.returncode} at start")
            found = httpx.post(f"{self.api}/work_pools/toll/workers/filter", json={}, timeout=10)
            found.raise_for_status()
            if names <= {w["name"] for w in found.json() if w.get("status") == "ONLINE"}:
                return
            time.sleep(1)
        raise TimeoutError(f"workers {sorted(names)} not online after {WORKERS_READY_S:g} s")


def summarise(nightly: dict, parts: list[dict]) -> dict:
    """The figures of one nightly and its ingest parts, from the server's run records: seconds
    from the nightly's start until its last part ended, parts per host tag."""
    state = nightly["state"]
    start = _time(nightly["start_time"])
    figures: dict = {
        "state": state["type"],
        "message": state.get("message") or "",
        "run_s": _seconds(start, _time(nightly["end_time"])),
        "nightly_host": _host(nightly),
        "parts": len(parts),
        "parts_per_host": {},
    }
    done = [p for p in parts if p.get("start_time") and p.get("end_time")]
    if done:
        starts = [_time(p["start_time"]) for p in done]
        ends = [_time(p["end_time"]) for p in done]
        figures["ingest_s"] = _seconds(start, max(ends))
        figures["first_part_after_s"] = _seconds(start, min(starts))
        lengths = [_seconds(a, b) for a, b in zip(starts, ends, strict=True)]
        figures["part_s_mean"] = round(sum(lengths) / len(lengths), 2)
        figures["part_s_sum"] = round(sum(lengths), 2)
        per_host: dict[str, int] = {}
        for part in parts:
            per_host[_host(part)] = per_host.get(_host(part), 0) + 1
        figures["parts_per_host"] = dict(sorted(per_host.items()))
        # each part: seconds after the nightly's start it began and ended, and where
        figures["part_runs"] = sorted(
            [_seconds(start, a), _seconds(start, b), _host(p)]
            for a, b, p in zip(starts, ends, done, strict=True)
        )
    problems = []
    if state["type"] != "COMPLETED":
        problems.append(f"nightly {state['type']}: {figures['message']}")
    if not parts:
        problems.append("no ingest parts ran (is ingest_spread_files below the map count?)")
    problems += [
        f"{p['name']} {p['state']['type']}" for p in parts if p["state"]["type"] != "COMPLETED"
    ]
    figures["status"] = "failed" if problems else "ok"
    figures["problems"] = problems
    return figures


def compare(runs: dict, published: dict[int, dict[str, str]]) -> dict:
    """Two workers over one for each time; are the published tables (sha256 of each table's
    Parquet on the bucket) the same? (None: fewer than two runs to compare)"""
    one, two = runs.get("1", {}), runs.get("2", {})
    ratios = {
        name: round(two[name] / one[name], 2)
        for name in ("wall_s", "run_s", "ingest_s")
        if one.get(name) and two.get(name)
    }
    if len(published) < 2:
        identical, differing = None, []
    else:
        names = sorted(set().union(*published.values()))
        differing = [n for n in names if len({p.get(n) for p in published.values()}) > 1]
        identical = bool(names) and not differing
    return {
        "ratios_two_to_one": ratios,
        "tables_identical": identical,
        "tables": sorted(next(iter(published.values()), {})),
        "tables_differing": differing,
    }


def print_spread(measured: dict) -> None:
    print(
        f"\nspread: nightly deployment over {measured['maps']:,} daily maps + 1x tables, "
        f"ingest_spread_files {measured['ingest_spread_files']}, worker --limit "
        f"{measured['worker_limit']}; hosts: {measured.get('hosts')}; Prefect on "
        f"{measured.get('prefect_database')}"
    )
    header = f"{'workers':>7} {'wall s':>8} {'run s':>8} {'ingest s':>9} {'parts':>6}  per host"
    print(header)
    print("-" * len(header))
    for count, run in measured["runs"].items():
        if run.get("status") != "ok":
            print(f"{count:>7}  FAILED: {'; '.join(run.get('problems') or [run.get('error')])}")
            continue
        hosts = ", ".join(f"{h}: {n}" for h, n in run["parts_per_host"].items())
        print(
            f"{count:>7} {run['wall_s']:>8.2f} {run['run_s']:>8.2f} {run['ingest_s']:>9.2f} "
            f"{run['parts']:>6}  {hosts} (nightly on {run['nightly_host']}, load "
            f"{run['load_1m_before']})"
        )
    ratios = " ".join(f"{k}={v}" for k, v in measured.get("ratios_two_to_one", {}).items())
    same = {True: "IDENTICAL", False: "DIFFERENT", None: "not compared"}
    tables = measured.get("tables_identical")
    print(f"two / one: {ratios or '-'}; published tables {same[tables]}", end="")
    print(f" ({len(measured.get('tables', []))} tables)" if tables else "")
    for name in measured.get("tables_differing", [])[:10]:
        print(f"  differs: {name}")


def runs_tagged(api: str, tag: str) -> list[dict]:
    found = httpx.post(
        f"{api}/flow_runs/filter", json={"flow_runs": {"tags": {"all_": [tag]}}}, timeout=30
    )
    found.raise_for_status()
    return found.json()


def _data(days: int, source_dir: Path, args: argparse.Namespace) -> tuple[Path, dict]:
    """1x tables and `days` daily maps, generated once and kept for both runs (and the next)."""
    facts_file = source_dir / "bench-source.json"
    facts = json.loads(facts_file.read_text()) if facts_file.exists() else None
    if not facts or facts.get("seed") != args.seed or facts.get("daily_maps") != days:
        shutil.rmtree(source_dir, ignore_errors=True)
        began = time.perf_counter()
        facts = generate(args.real_data, source_dir, 1, args.seed, maps_days=days)
        facts["generated_s"] = round(time.perf_counter() - began, 1)
        facts_file.write_text(json.dumps(facts, indent=1))
    return source_dir, facts


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _seconds(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 2)


def _host(run: dict) -> str:
    tags = [t.removeprefix("host:") for t in run.get("tags", []) if t.startswith("host:")]
    return tags[0] if tags else "?"


def _tails(hosts: list) -> dict[str, str]:
    logs = {h.name: h.home / "worker.log" for h in hosts}
    return {n: p.read_text(errors="replace")[-3000:] for n, p in logs.items() if p.exists()}


def _stop_tree(worker: subprocess.Popen) -> None:
    """The worker and any flow run it still has (a run that timed out), then their group."""
    from helpers.team_server import descendants, stop

    left = descendants(worker.pid)
    stop(worker)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
