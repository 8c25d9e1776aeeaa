"""One measured benchmark step, run in its own process by the harness.

    python -m bench.step nightly   --warehouse W --source-dir S [--catalogue C] [--run-date D]
    python -m bench.step backfill  --warehouse W --source-dir S [--catalogue C] --start D --end D
    python -m bench.step reference --source-dir S --out DIR

Writes what it measured inside the process (phases, import and flow time) as JSON to --report.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import time
from datetime import date
from pathlib import Path

STARTED = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.step")
    parser.add_argument("kind", choices=["nightly", "backfill", "reference"])
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--source-dir", type=Path, required=True)
    parser.add_argument("--warehouse")  # a folder or s3://bucket/prefix
    parser.add_argument("--catalogue", type=Path)
    parser.add_argument("--run-date", type=date.fromisoformat)
    parser.add_argument("--start", type=date.fromisoformat)
    parser.add_argument("--end", type=date.fromisoformat)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    # as `toll` does (flows/cli/shutdown.py): its exit is part of what a user waits for
    atexit.register(gc.freeze)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    if args.kind == "reference":
        from bench.reference import run_reference

        began = time.perf_counter()
        rows = run_reference(args.source_dir, args.out)
        report = {"rows": rows, "work_s": round(time.perf_counter() - began, 3)}
    else:
        report = _pipeline(args)
    report["process_s"] = round(time.perf_counter() - STARTED, 3)
    args.report.write_text(json.dumps(report, indent=1, default=str))
    return 0


def _pipeline(args: argparse.Namespace) -> dict:
    began = time.perf_counter()
    import duckdb  # noqa: F401  (the libraries any toll run needs, timed apart from Prefect)
    import polars  # noqa: F401
    import pyarrow  # noqa: F401

    libraries = time.perf_counter()
    from flows.config import load_settings

    settings = load_settings(
        source_dir=args.source_dir,
        warehouse=args.warehouse,
        catalogue=args.catalogue,
        # generated files carry no checksum pins; the real catalogue's pins are checked
        verify_checksums=args.catalogue is None,
    )
    # as `toll run` does: Prefect's temporary server boots while the sources are checked,
    # before Prefect is imported
    from flows.ops.local_api import start_local_api

    api = start_local_api()
    if args.kind == "nightly":
        # as `toll run` does: on object storage this host's working copy is pulled first;
        # an unchanged run is decided before any flow runs (the server is stopped)
        from flows.s5_publish.fingerprint import standing_snapshot
        from flows.warehouse.layout import Warehouse
        from flows.warehouse.working_copy import pull, working_copy

        work = working_copy(Warehouse.at(settings.warehouse, object_storage=True))
        if work.remote is not None:
            pull(work)
        if (same := standing_snapshot(settings, work)) is not None:
            api.stop()
            return {
                "result": {"snapshot": str(same), "unchanged": True, "flow_ran": False},
                "library_import_s": round(libraries - began, 3),
                "check_s": round(time.perf_counter() - libraries, 3),
            }
    import prefect  # noqa: F401

    prefect_import = time.perf_counter() - libraries
    from bench import probe

    installed = probe.install()
    if args.kind == "nightly":
        from flows.nightly import nightly

        def run():
            return nightly(settings=settings, run_date=args.run_date)
    else:
        from flows.backfill import backfill

        def run():
            return backfill(args.start, args.end, settings=settings, run_date=args.run_date)

    from flows.pipeline.run import import_slow_modules

    preload_s = 0.0

    def meanwhile() -> None:
        nonlocal preload_s
        began = time.perf_counter()
        import_slow_modules()
        preload_s = time.perf_counter() - began

    flow_started = time.perf_counter()
    # as `toll run` does; the wait for the server counts as Prefect's (it was inside the flow)
    with api.serving(meanwhile=meanwhile):
        result = run()
    flow_s = time.perf_counter() - flow_started
    phases = probe.totals()
    work = sum(phases.values())
    return {
        "result": result,
        "probes": installed,
        "phases": phases,
        "calls": dict(probe.calls),
        "library_import_s": round(libraries - began, 3),
        "prefect_import_s": round(prefect_import, 3),
        "flow_s": round(flow_s, 3),
        # GX and sqlglot imported while the temporary server boots (toll's, not Prefect's)
        "slow_imports_s": round(preload_s, 3),
        # inside the flow call, everything that is not toll's own work: the temporary
        # Prefect server, task and state bookkeeping, logging, artifacts
        "prefect_overhead_s": round(prefect_import + flow_s - work - preload_s, 3),
    }


if __name__ == "__main__":
    raise SystemExit(main())
