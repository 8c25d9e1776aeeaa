"""The benchmark: per scale, cold nightly, unchanged nightly, backfill of a year and the DuckDB
reference, each in its own process; wall time, peak RSS, shares, ratios, equality check; on the
real data, the nowcast's back-test scores as published (fct_nowcast_scores)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from bench.generate import generate
from bench.reference import compare

ROOT = Path(__file__).resolve().parent.parent
STEPS = ["cold", "unchanged", "backfill", "reference"]
PUBLISHING = {"cold", "unchanged", "backfill"}  # the steps that publish a snapshot
GiB = 1024**3
# the issues' targets (issue 19 for the first five), checked and printed, never asserted
# (timings depend on the machine)
TARGETS = {
    "cold_100x_s": 45,
    "cold_100x_rss_gib": 2.5,
    "cold_to_reference_100x": 10,
    "unchanged_1x_s": 1,
    "cold_1x_s": 20,
    "gate_share_100x": 0.25,
    "backfill_to_cold": 2,
    # per map: wall time of all maps over their count, both cores in use
    "per_map_s": 0.06,
    "cold_maps_s": 90,
    "new_map_s": 1,
}
# issue 16, on the real data (1x), lags 5-25, against the count at the target vintage: (low, high)
NOWCAST_TARGETS = {
    "nowcast_total_mae_1x": (None, 0.16),
    "nowcast_abs_bias_1x": (None, 0.10),
    "nowcast_band_coverage_1x": (0.72, 0.88),
}


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the real (1x) data is and the generator's seed: shared by the bench commands."""
    parser.add_argument(
        "--real-data",
        type=Path,
        default=Path(os.environ.get("TOLL_TEST_DATA", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--seed", type=int, default=2022)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        help="scales to run (default 1 10 100; none with --spread unless given)",
    )
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=STEPS)
    parser.add_argument("--out", type=Path, default=Path("/tmp/toll-bench"))
    add_data_arguments(parser)
    parser.add_argument(
        "--synthetic-1x", action="store_true", help="generate 1x too instead of the real data"
    )
    parser.add_argument(
        "--maps",
        type=int,
        default=0,
        metavar="N",
        help="also run 'maps': 1x synthetic tables with N daily full-layer maps, cold, then one "
        "new map (the issue's map scale is about 1,700)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the cold nightly")
    parser.add_argument(
        "--object-store",
        action="store_true",
        help="also run the cold nightly with the warehouse on S3 (SeaweedFS on loopback, from "
        "the dev extra) and compare it with the local cold run",
    )
    parser.add_argument(
        "--spread",
        type=int,
        nargs="?",
        const=1_700,
        metavar="N",
        help="issue 20: the nightly deployment over 1x tables and N daily maps (default 1,700) "
        "on a SeaweedFS bucket, the maps parsed by ingest-part runs, with one worker and then "
        "two; needs PostgreSQL or SQLite for Prefect, root for network namespaces",
    )
    parser.add_argument(
        "--spread-files",
        type=int,
        default=100,
        metavar="F",
        help="ingest_spread_files for --spread: maps per ingest part (default 100)",
    )
    parser.add_argument(
        "--worker-limit",
        type=int,
        default=2,
        metavar="L",
        help="flow runs at a time per worker for --spread (default 2: the nightly and a part)",
    )
    parser.add_argument(
        "--spread-workers",
        type=int,
        nargs="+",
        default=[1, 2],
        metavar="W",
        help="worker counts for --spread, one run each on a fresh bucket (default 1 2)",
    )
    parser.add_argument("--json", type=Path, help="results file (default OUT/results.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.scales is None:
        args.scales = [] if args.spread else [1, 10, 100]

    args.out.mkdir(parents=True, exist_ok=True)
    results = {"machine": _machine(), "scales": {}}
    ok = True
    for scale in args.scales:
        measured = run_scale(scale, args)
        results["scales"][_label(scale)] = measured
        ok &= measured["equal"] is not False and not measured.get("failed")
    if args.maps:
        measured = run_maps(args.maps, args)
        results["scales"]["maps"] = measured
        ok &= not measured.get("failed")
    if args.spread:
        from bench.spread import run_spread

        results["spread"] = run_spread(args.spread, args)
        runs = results["spread"]["runs"].values()
        ok &= all(r.get("status") == "ok" for r in runs)
        # with both runs, the same tables; a single run has nothing to compare with
        ok &= results["spread"]["tables_identical"] is not False
    results["targets"] = check_targets(results["scales"])
    target = args.json or args.out / "results.json"
    target.write_text(json.dumps(results, indent=1, default=str))
    if results["scales"]:
        print_table(results)
    if "spread" in results:
        from bench.spread import print_spread

        print_spread(results["spread"])
    print(f"\nresults: {target}")
    if not ok:
        print(
            "FAILED: a step failed, the pipeline and the reference differ, or the spread "
            "runs failed or published different tables",
            file=sys.stderr,
        )
    return 0 if ok else 1


def _label(scale: float) -> str:
    return f"{scale:g}x"


def run_scale(scale: float, args: argparse.Namespace) -> dict:
    folder = args.out / _label(scale)
    folder.mkdir(parents=True, exist_ok=True)
    measured: dict = {"steps": {}}
    if scale == 1 and not args.synthetic_1x:
        source_dir, catalogue, run_date = args.real_data.resolve(), None, None
        measured["data"] = {"source": "real", "dir": str(source_dir)}
    else:
        source_dir = folder / "sources"
        facts_file = source_dir / "bench-source.json"
        facts = json.loads(facts_file.read_text()) if facts_file.exists() else None
        if not facts or facts.get("seed") != args.seed or facts.get("scale") != scale:
            shutil.rmtree(source_dir, ignore_errors=True)
            began = time.perf_counter()
            facts = generate(args.real_data, source_dir, scale, args.seed)
            facts["generated_s"] = round(time.perf_counter() - began, 1)
            facts_file.write_text(json.dumps(facts, indent=1))
        catalogue, run_date = source_dir / "sources.toml", facts["run_date"]
        measured["data"] = {"source": "synthetic", "dir": str(source_dir), **facts}

    warehouse = folder / "warehouse"
    common = ["--source-dir", str(source_dir), "--warehouse", str(warehouse)]
    if catalogue:
        common += ["--catalogue", str(catalogue)]
    if run_date:
        common += ["--run-date", run_date]
    steps = measured["steps"]
    if "cold" in args.steps:
        shutil.rmtree(warehouse, ignore_errors=True)
        profile = folder / "cold-profile.txt" if args.profile else None
        steps["cold"] = run_step("nightly", common, folder / "cold.json", profile)
    if "unchanged" in args.steps:
        steps["unchanged"] = run_step("nightly", common, folder / "unchanged.json")
    if "backfill" in args.steps:
        if not _has_backfill():
            steps["backfill"] = {"status": "not available yet (no flows.backfill)"}
        else:
            end = backfill_end(catalogue, run_date)
            span = ["--start", (end - timedelta(days=364)).isoformat(), "--end", end.isoformat()]
            measured["backfill_range"] = [span[1], span[3]]
            steps["backfill"] = run_step("backfill", common + span, folder / "backfill.json")
    if "reference" in args.steps:
        ref_dir = folder / "reference"
        steps["reference"] = run_step(
            "reference",
            ["--source-dir", str(source_dir), "--out", str(ref_dir)],
            folder / "reference.json",
        )
        current = warehouse / "current"
        if steps["reference"]["status"] == "ok" and current.is_symlink():
            problems = compare(ref_dir, current.resolve())
            measured["equal"] = not problems
            measured["differences"] = problems
        elif steps["reference"]["status"] == "ok" and not PUBLISHING & set(args.steps):
            # the reference alone (the map targets' command): no run here to compare it with
            measured["equal"] = None
            measured["differences"] = ["no pipeline step at this scale: not compared"]
        else:
            measured["equal"] = False
            measured["differences"] = ["no published snapshot or no reference to compare"]
    else:
        measured["equal"] = None
    if getattr(args, "object_store", False):
        steps["cold_s3"], measured["s3_equal"] = run_on_object_store(folder, common, warehouse)
    measured["failed"] = [n for n, s in steps.items() if s.get("status") == "failed"]
    measured["ratios"] = _ratios(steps)
    measured["nowcast"] = nowcast_scores(warehouse / "current")
    return measured


def run_on_object_store(folder: Path, common: list[str], local: Path) -> tuple[dict, bool | None]:
    """The cold nightly again, its warehouse on a fresh bucket of a SeaweedFS server on
    loopback and this host's working copy empty; are its published Parquet files the local
    cold run's, byte for byte?"""
    sys.path.insert(0, str(ROOT / "tests"))  # the test suite's S3 server helpers
    from helpers.moto_s3 import CREDENTIALS, new_bucket
    from helpers.seaweed_s3 import seaweed_server

    cache = folder / "s3-cache"
    shutil.rmtree(cache, ignore_errors=True)
    with seaweed_server() as endpoint:
        env = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "XDG_CACHE_HOME": str(cache)}
        url = f"s3://{new_bucket(endpoint)}/wh"
        arguments = list(common)
        arguments[arguments.index("--warehouse") + 1] = url
        step = run_step("nightly", arguments, folder / "cold_s3.json", env=env)
        if step["status"] != "ok" or not (local / "current").is_symlink():
            return step, None
        published = _published_parquet(local / "current")
        return step, published == _published_on_bucket(url, endpoint, CREDENTIALS)


def _published_on_bucket(url: str, endpoint: str, credentials: dict[str, str]) -> dict[str, str]:
    """sha256 of each published table's Parquet as read back from the bucket's current."""
    import hashlib

    import boto3

    from flows.warehouse.storage import S3Storage

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=credentials["AWS_REGION"],
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )
    storage = S3Storage(url, client=client)
    pointer = storage.read_pointer("current")
    if pointer is None:
        return {}
    prefix = f"snapshots/{pointer[0]}"
    return {
        key.rsplit("/", 1)[1]: hashlib.sha256(storage.read_bytes(key)).hexdigest()
        for key in storage.list(prefix)
        if key.endswith(".parquet") and not key.rsplit("/", 1)[1].startswith("_")
    }


def _published_parquet(snapshot: Path) -> dict[str, str]:
    import hashlib

    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(snapshot.glob("*.parquet"))
        if not p.name.startswith("_")
    }


def nowcast_scores(current: Path) -> dict | None:
    """fct_nowcast_scores of the published snapshot, by lag band; None when there is none."""
    import polars as pl

    table = current / "fct_nowcast_scores.parquet"
    if not table.exists():
        return None
    rows = pl.read_parquet(table).sort("lag_from", -pl.col("lag_to")).to_dicts()
    return {r.pop("lag_band"): r for r in rows} or None


def run_maps(days: int, args: argparse.Namespace) -> dict:
    """Cold nightly over `days` daily maps (1x tables), then a nightly with one new map."""
    from bench.generate import add_map_file
    from bench.maps import write_daily_maps

    folder = args.out / "maps"
    source_dir = folder / "sources"
    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    facts = generate(args.real_data, source_dir, 1, args.seed, maps_days=days)
    facts["generated_s"] = round(time.perf_counter() - began, 1)
    warehouse = folder / "warehouse"
    common = ["--source-dir", str(source_dir), "--warehouse", str(warehouse)]
    common += ["--catalogue", str(source_dir / "sources.toml"), "--run-date", facts["run_date"]]
    steps = {"cold": run_step("nightly", common, folder / "cold.json")}
    [(local, day)] = write_daily_maps(args.real_data, source_dir, 1, first=days)
    add_map_file(local, day, source_dir)
    steps["new_map"] = run_step("nightly", common, folder / "new_map.json")
    measured = {"data": {"source": "synthetic", **facts}, "steps": steps, "equal": None}
    measured["failed"] = [n for n, s in steps.items() if s.get("status") == "failed"]
    cold_maps = steps["cold"].get("phases", {}).get("geometry")
    measured["ratios"] = {
        "cold_maps_s": cold_maps,
        "per_map_s": round(cold_maps / days, 4) if cold_maps else None,
        "new_map_s": steps["new_map"].get("phases", {}).get("geometry"),
    }
    return measured


def backfill_end(catalogue: Path | None, run_date: str | None) -> date:
    """The year backfilled ends at the newest dated input (a Mediazona vintage): the year with
    the most history to re-read, not the empty far future of the synthetic daily series."""
    from flows.s1_sources.catalogue import load_catalogue

    dated = [f.as_of for s in load_catalogue(catalogue).values() for f in s.files if f.as_of]
    newest = max(dated, default=date.today())
    return min(newest, date.fromisoformat(run_date) if run_date else date.today())


def _has_backfill() -> bool:
    import importlib.util

    return importlib.util.find_spec("flows.backfill") is not None


def run_step(
    kind: str,
    arguments: list[str],
    report: Path,
    profile: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict:
    """Run one step in a child process; wall time, peak RSS, and what it measured inside."""
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.step", kind, "--report", str(report), *arguments]
    if profile is not None:
        raw = profile.with_suffix(".raw")
        spy = Path(sys.executable).with_name("py-spy")
        spy_command = [str(spy) if spy.exists() else "py-spy", "record", "--subprocesses"]
        command = [*spy_command, "--format", "raw", "-r", "50", "-o", str(raw), "--", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    # on a busy machine the temporary Prefect server can take longer than the default 20 s
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    log = report.with_suffix(".log")
    started = time.perf_counter()
    with open(log, "wb") as output:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
        sampler = TreeRss(child.pid)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
    wall = time.perf_counter() - started
    measured = {
        "status": "ok" if child.returncode == 0 and report.exists() else "failed",
        "wall_s": round(wall, 2),
        # ru_maxrss (KiB): the largest single process of the step's tree
        "peak_rss_gib": round(usage.ru_maxrss * 1024 / GiB, 3),
        # sampled every 0.1 s: all processes of the tree together (Prefect's server included)
        "peak_tree_rss_gib": round(sampler.peak / GiB, 3),
        "log": str(log),
    }
    if report.exists():
        measured.update(json.loads(report.read_text()))
    if profile is not None:
        from bench.profile import summarise

        measured["profile"] = summarise(profile.with_suffix(".raw"), profile)
    return measured


class TreeRss(threading.Thread):
    """Peak summed RSS of a process and its descendants, sampled from /proc."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._done = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, self._tree_rss())

    def stop(self) -> None:
        self._done.set()
        self.join()

    def _tree_rss(self) -> int:
        parents, rss = {}, {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            rss[pid] = int(fields[21]) * self._page
        total, frontier = 0, [self.pid]
        children: dict[int, list[int]] = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)
        while frontier:
            pid = frontier.pop()
            total += rss.get(pid, 0)
            frontier.extend(children.get(pid, []))
        return total


def _ratios(steps: dict) -> dict:
    reference = steps.get("reference", {}).get("wall_s")
    ratios = {}
    for name in ("cold", "unchanged", "backfill"):
        wall = steps.get(name, {}).get("wall_s")
        if wall and reference:
            ratios[f"{name}_to_reference"] = round(wall / reference, 2)
    cold = steps.get("cold", {})
    if cold.get("wall_s") and steps.get("backfill", {}).get("wall_s"):
        ratios["backfill_to_cold"] = round(steps["backfill"]["wall_s"] / cold["wall_s"], 2)
    if cold.get("wall_s") and cold.get("phases") is not None:
        for phase in ("gate", "geometry", "ingest", "build", "publish"):
            ratios[f"{phase}_share_of_cold"] = round(
                cold["phases"].get(phase, 0.0) / cold["wall_s"], 3
            )
        ratios["prefect_share_of_cold"] = round(cold["prefect_overhead_s"] / cold["wall_s"], 3)
    if cold.get("wall_s") and steps.get("cold_s3", {}).get("wall_s"):
        ratios["cold_s3_to_cold"] = round(steps["cold_s3"]["wall_s"] / cold["wall_s"], 2)
    return ratios


def check_targets(scales: dict) -> dict:
    """Measured value against each target of the issue; None where not measured."""

    def step(label: str, name: str) -> dict:
        return scales.get(label, {}).get("steps", {}).get(name, {})

    def ratio(label: str, name: str):
        return scales.get(label, {}).get("ratios", {}).get(name)

    measured = {
        "cold_100x_s": step("100x", "cold").get("wall_s"),
        "cold_100x_rss_gib": step("100x", "cold").get("peak_tree_rss_gib"),
        "cold_to_reference_100x": ratio("100x", "cold_to_reference"),
        "unchanged_1x_s": step("1x", "unchanged").get("wall_s"),
        "cold_1x_s": step("1x", "cold").get("wall_s"),
        "gate_share_100x": ratio("100x", "gate_share_of_cold"),
        "backfill_to_cold": ratio("100x", "backfill_to_cold") or ratio("1x", "backfill_to_cold"),
        "per_map_s": ratio("maps", "per_map_s"),
        "cold_maps_s": ratio("maps", "cold_maps_s"),
        "new_map_s": ratio("maps", "new_map_s"),
    }
    targets = {
        name: {
            "target": limit,
            "measured": measured[name],
            "met": None if measured[name] is None else measured[name] <= limit,
        }
        for name, limit in TARGETS.items()
    }
    real = scales.get("1x", {})
    whole = (
        (real.get("nowcast") or {}).get("5-25")
        if real.get("data", {}).get("source") == "real"
        else None
    )
    nowcast = {
        "nowcast_total_mae_1x": whole and whole["window_total_mean_abs_error"],
        "nowcast_abs_bias_1x": whole and abs(whole["window_total_bias"]),
        "nowcast_band_coverage_1x": whole and whole["band_coverage"],
    }
    for name, (low, high) in NOWCAST_TARGETS.items():
        value = nowcast[name]
        targets[name] = {
            "target": f"{low}-{high}" if low is not None else high,
            "measured": None if value is None else round(value, 4),
            "met": None if value is None else (low is None or value >= low) and value <= high,
        }
    return targets


def print_table(results: dict) -> None:
    header = f"{'scale':>6} {'step':<10} {'wall s':>8} {'RSS GiB':>8} {'tree GiB':>8}  notes"
    print(header)
    print("-" * len(header))
    for label, measured in results["scales"].items():
        for name, step in measured["steps"].items():
            if "wall_s" not in step:
                print(f"{label:>6} {name:<10} {'-':>8} {'-':>8} {'-':>8}  {step.get('status')}")
                continue
            notes = step["status"]
            if step.get("phases"):
                notes += "  " + " ".join(f"{k}={v:.1f}s" for k, v in sorted(step["phases"].items()))
                notes += f" prefect={step['prefect_overhead_s']:.1f}s"
            if step.get("check_s") is not None:
                notes += f"  unchanged, decided in {step['check_s']:.2f}s (no flow ran)"
            print(
                f"{label:>6} {name:<10} {step['wall_s']:>8.2f} {step['peak_rss_gib']:>8.2f} "
                f"{step['peak_tree_rss_gib']:>8.2f}  {notes}"
            )
        ratios = " ".join(f"{k}={v}" for k, v in measured["ratios"].items())
        equal = {True: "EQUAL", False: "DIFFERENT", None: "not compared"}[measured["equal"]]
        print(f"{label:>6} reference check: {equal}; {ratios}")
        if "s3_equal" in measured:
            same = {True: "IDENTICAL", False: "DIFFERENT", None: "not compared"}
            print(f"{label:>6} object store: published Parquet {same[measured['s3_equal']]}")
        for problem in measured.get("differences", [])[:10]:
            print(f"{'':>8}{problem}")
        if measured.get("nowcast"):
            print(f"{label:>6} nowcast back-test ({measured.get('data', {}).get('source')} data):")
            for band, r in measured["nowcast"].items():
                print(
                    f"{'':>8}lags {band:<6} {r['cutoffs']} cut-offs, {r['weeks']} weeks: total "
                    f"MAE {r['window_total_mean_abs_error']:.1%}, bias "
                    f"{r['window_total_bias']:+.1%}; per week MAE {r['week_mean_abs_error']:.1%}, "
                    f"bias {r['week_bias']:+.1%}; band held {r['band_coverage']:.1%} "
                    f"(below {r['share_below_band']:.1%}, above {r['share_above_band']:.1%}); "
                    f"published count alone {r['published_window_total_mean_abs_error']:.1%}"
                )
    print("\ntargets:")
    for name, target in results["targets"].items():
        met = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        limit = target["target"]
        limit = f"in {limit}" if isinstance(limit, str) else f"<= {limit}"
        print(f"  {name:<24} target {limit:<12} measured {target['measured']}: {met}")


def _machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "load_1m": os.getloadavg()[0],
        "python": sys.version.split()[0],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
