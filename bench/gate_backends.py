"""The gate's suites on two GX backends, at k times the real volume (issue 5's measurement).

    python -m bench.gate_backends --scale 10
    python -m bench.gate_backends --scale 100 --without-nowcast

Per scale: generated sources (bench/generate.py; 1x is the real data), ingested into a raw
layer and built with toll's own model runner into one DuckDB file. Then, per layer (raw,
staging, marts by the suites' `meta.layer`), each run in its own process:

- `sql`: as the gate runs today, GX's SQL backend pushed down to the build's DuckDB connection
  (flows/s4_gate/gx_duckdb.py), every expectation of the suites;
- `sql-portable`: the same without the expectations only SQL can run (UnexpectedRowsExpectation
  is a SQL query), so that it does the same work as `frames`;
- `frames`: each table read with `con.table(t).to_arrow_table()`, turned into an Arrow-backed
  pandas frame (`types_mapper=pd.ArrowDtype`) and validated through a GX pandas datasource with
  the same suites; reading the table counts in its time.

Reported: wall time (the process's, and its load + validate work without Python and GX
imports), peak RSS of the process (VmHWM), the 1-minute load average before and after,
and per expectation whether both backends agree; an expectation one backend cannot run (GX
raises) is listed with GX's message, never dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("raw", "staging", "marts")
BACKENDS = ("sql", "sql-portable", "frames")
SQL_ONLY = {"unexpected_rows_expectation"}
# the nowcast chain; at 100x it is quadratic in vintages (bench/README.md, cost 1)
NOWCAST = ("int_nowcast_",)
GiB = 1024**3


# ---------------------------------------------------------------- the build database


def prepare(scale: float, out: Path, real_data: Path, seed: int, without_nowcast: bool) -> dict:
    """Sources, raw layer and one built DuckDB file for `scale`; returns what was built."""
    from bench.generate import generate
    from flows.config import load_settings
    from flows.s1_sources.catalogue import load_catalogue
    from flows.s2_ingest.collect import ingest_source

    folder = out / f"{scale:g}x"
    folder.mkdir(parents=True, exist_ok=True)
    facts: dict = {}
    if scale == 1:
        source_dir, catalogue_file, run_date = real_data.resolve(), None, None
    else:
        source_dir = folder / "sources"
        facts_file = source_dir / "bench-source.json"
        facts = json.loads(facts_file.read_text()) if facts_file.exists() else {}
        if facts.get("seed") != seed or facts.get("scale") != scale:
            shutil.rmtree(source_dir, ignore_errors=True)
            shutil.rmtree(folder / "warehouse", ignore_errors=True)
            facts = generate(real_data, source_dir, scale, seed)
            facts_file.write_text(json.dumps(facts, indent=1))
        catalogue_file, run_date = source_dir / "sources.toml", facts["run_date"]
    settings = load_settings(
        source_dir=source_dir,
        warehouse=folder / "warehouse",
        catalogue=catalogue_file,
        verify_checksums=catalogue_file is None,
    )
    catalogue = load_catalogue(settings.catalogue)
    began = time.perf_counter()
    fetched_at = datetime.now(UTC)
    for source in catalogue.values():
        ingest_source(settings, source, fetched_at)  # files already stored are skipped
    ingest_s = time.perf_counter() - began

    database = folder / "gate.duckdb"
    database.unlink(missing_ok=True)
    began = time.perf_counter()
    built, skipped = build(database, settings, catalogue, without_nowcast)
    return {
        "scale": scale,
        "database": str(database),
        "run_date": run_date or date.today().isoformat(),
        "ingest_s": round(ingest_s, 1),
        "build_s": round(time.perf_counter() - began, 1),
        "models_built": built,
        "models_skipped": skipped,
        "data": {k: v for k, v in facts.items() if k != "files"},
    }


def build(database: Path, settings, catalogue, without_nowcast: bool) -> tuple[list, list]:
    """toll's models (flows/s3_build/runner.py) into `database`; without the nowcast if asked."""
    from flows.s3_build.models import discover, run_macros, run_models, upstream
    from flows.s3_build.runner import connect, register_raw_tables
    from flows.warehouse.sql_names import identifier

    models = discover()
    skipped = []
    if without_nowcast:
        skipped = sorted(
            name
            for name in models
            if any(n.startswith(NOWCAST) for n in [name, *upstream(models, name)])
        )
        models = {n: m for n, m in models.items() if n not in skipped}
    con = connect(database)
    try:
        for name, value in settings.result_affecting().items():
            con.execute(f"set variable {identifier(name, 'model variable')} = ?", [value])
        register_raw_tables(con, settings.warehouse, catalogue, settings.as_of)
        run_macros(con)
        run_models(con, models)
    finally:
        con.close()
    return sorted(models), skipped


# ---------------------------------------------------------------- one measured run (child)


def measure(database: Path, layer: str, backend: str, run_date: date) -> dict:
    """Validate the layer's suites on one backend; per expectation its outcome, and timings."""
    import logging

    import duckdb
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from flows.config import load_settings
    from flows.s4_gate.gate import gate_parameters
    from flows.s4_gate.suites import _as_datetime, _check, _prepare, load_suites, suite_table

    imported = time.perf_counter()
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    parameters = gate_parameters(load_settings(), run_date)
    gx_params = {k: _as_datetime(v) for k, v in parameters.items()}
    # date-typed twins of the date parameters, for date columns on frames (_frame_bounds)
    gx_params |= {f"{k}__date": v for k, v in parameters.items() if isinstance(v, date)}
    suites = {n: s for n, s in load_suites().items() if (s.get("meta") or {}).get("layer") == layer}
    con = duckdb.connect(str(database), read_only=True)
    con.execute("set enable_progress_bar = false")
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    held = None
    if backend.startswith("sql"):
        from flows.s4_gate.gx_duckdb import add_duckdb_datasource

        datasource, held = add_duckdb_datasource(context, con)
    else:
        import pandas as pd

        datasource = context.data_sources.add_pandas("frames")
    load_s = validate_s = 0.0
    rows: dict[str, int] = {}
    outcomes: list[dict] = []
    missing: list[str] = []
    try:
        for name, spec in suites.items():
            table = suite_table(name, spec)
            if table not in tables:
                missing.append(table)
                continue
            if backend == "sql-portable":
                spec = {
                    **spec,
                    "expectations": [e for e in spec["expectations"] if e["type"] not in SQL_ONLY],
                }
            began = time.perf_counter()
            if backend.startswith("sql"):
                batch = (
                    datasource.add_table_asset(name, table_name=table)
                    .add_batch_definition_whole_table("whole")
                    .get_batch()
                )
                rows[table] = con.execute(f'select count(*) from "{table}"').fetchone()[0]
                suite = gx.ExpectationSuite(**_prepare(spec, parameters))
            else:
                frame = con.table(table).to_arrow_table().to_pandas(types_mapper=pd.ArrowDtype)
                rows[table] = len(frame)
                suite = gx.ExpectationSuite(**_frame_bounds(_prepare(spec, parameters), frame))
                batch = (
                    datasource.add_dataframe_asset(name)
                    .add_batch_definition_whole_dataframe("whole")
                    .get_batch(batch_parameters={"dataframe": frame})
                )
            loaded = time.perf_counter()
            result = batch.validate(
                suite, expectation_parameters=gx_params, result_format="SUMMARY"
            )
            validate_s += time.perf_counter() - loaded
            load_s += loaded - began
            for item in result.results:
                check = _check(name, layer, item)
                error = check.detail.strip("[]") or _metric_error(item.exception_info)
                outcomes.append(
                    {
                        "key": _key(name, item.expectation_config),
                        "type": check.expectation,
                        "success": check.success,
                        "unexpected": check.unexpected,
                        "error": error or None,
                    }
                )
            del batch, result
            if not backend.startswith("sql"):
                del frame
    finally:
        if held is not None:
            held.close()
        con.close()
    return {
        "layer": layer,
        "backend": backend,
        "suites": len(suites),
        "missing_tables": missing,
        "rows": sum(rows.values()),
        "tables": rows,
        "setup_s": round(time.perf_counter() - imported - load_s - validate_s, 3),
        "load_s": round(load_s, 3),
        "validate_s": round(validate_s, 3),
        "outcomes": outcomes,
        "peak_rss_gib": round(_peak_rss() / GiB, 3),
    }


def _peak_rss() -> int:
    """This process's peak RSS in bytes. Not ru_maxrss: after fork + exec that still counts the
    parent's pages at fork time (the parent holding a large build would show in every child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _frame_bounds(spec: dict, frame) -> dict:
    """Date bounds as the column's type: pandas compares a date32 column with `date` only
    (with the gate's `datetime` bounds GX raises), a timestamp column with `datetime`."""
    import pyarrow as pa

    for expectation in spec["expectations"]:
        kwargs = expectation["kwargs"]
        column = kwargs.get("column")
        if column not in frame.columns or not hasattr(frame[column].dtype, "pyarrow_dtype"):
            continue
        if pa.types.is_date(frame[column].dtype.pyarrow_dtype):
            for bound in ("min_value", "max_value"):
                if isinstance(kwargs.get(bound), datetime):
                    kwargs[bound] = kwargs[bound].date()
                elif isinstance(kwargs.get(bound), dict) and "$PARAMETER" in kwargs[bound]:
                    kwargs[bound] = {"$PARAMETER": kwargs[bound]["$PARAMETER"] + "__date"}
    return spec


def _metric_error(info: dict | None) -> str | None:
    """GX 1.x reports a metric that raised under its metric id, not at the top level."""
    for value in (info or {}).values():
        if isinstance(value, dict) and value.get("raised_exception", True):
            message = value.get("exception_message")
            if message:
                return message
    return None


def _key(suite: str, config) -> str:
    meta = config.meta or {}
    what = meta.get("check") or config.kwargs.get("column") or ""
    columns = ",".join(config.kwargs.get("column_list") or [])
    return f"{suite}:{config.type}:{what}{':' + columns if columns else ''}"


# ---------------------------------------------------------------- the harness (parent)


def run_child(database: Path, layer: str, backend: str, run_date: str, report: Path) -> dict:
    """One measured process: wall time, ru_maxrss, load average before and after."""
    command = [
        sys.executable, "-m", "bench.gate_backends", "--child", backend, "--layer", layer,
        "--database", str(database), "--run-date", run_date, "--report", str(report),
    ]  # fmt: skip
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT)
    status = child.wait()
    wall = time.perf_counter() - began
    measured = {
        "wall_s": round(wall, 2),
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "status": "ok" if status == 0 else "failed",
    }
    if measured["status"] == "ok":
        measured.update(json.loads(report.read_text()))
    return measured


def compare(runs: dict[str, dict]) -> dict:
    """Per expectation: do `sql` and `frames` agree on pass/fail; what one of them cannot run."""
    sql = {o["key"]: o for o in runs.get("sql", {}).get("outcomes", [])}
    frames = {o["key"]: o for o in runs.get("frames", {}).get("outcomes", [])}
    agree, differ, only_sql, only_frames, neither = [], [], [], [], []
    for key in sorted(set(sql) | set(frames)):
        a, b = sql.get(key), frames.get(key)
        a_runs = a is not None and not a["error"]
        b_runs = b is not None and not b["error"]
        if a_runs and b_runs:
            (agree if a["success"] == b["success"] else differ).append(
                key
                if a["success"] == b["success"]
                else f"{key}: sql {a['success']}, "
                f"frames {b['success']} (unexpected {a['unexpected']} vs {b['unexpected']})"
            )
        elif a_runs:
            only_sql.append(f"{key}: frames cannot run it: {(b or {}).get('error')}")
        elif b_runs:
            only_frames.append(f"{key}: sql cannot run it: {(a or {}).get('error')}")
        else:
            neither.append(f"{key}: {(a or {}).get('error')} / {(b or {}).get('error')}")
    return {
        "agree": len(agree),
        "differ": differ,
        "sql_only": only_sql,
        "frames_only": only_frames,
        "neither": neither,
        "failed_in_both": [k for k in agree if not sql[k]["success"]],
    }


def main(argv: list[str] | None = None) -> int:
    # here, not at the top: the timed child processes run this module too
    from bench.harness import add_data_arguments

    parser = argparse.ArgumentParser(prog="python -m bench.gate_backends", description=__doc__)
    parser.add_argument("--scale", type=float, default=10)
    parser.add_argument("--layers", nargs="+", choices=LAYERS, default=list(LAYERS))
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/toll-bench-gate"))
    add_data_arguments(parser)
    parser.add_argument(
        "--without-nowcast",
        action="store_true",
        help="do not build the nowcast chain and what reads it (quadratic at 100x)",
    )
    parser.add_argument(
        "--database", type=Path, help="measure this built database instead of building one"
    )
    parser.add_argument("--run-date", help="the gate's run date (with --database)")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--layer", choices=LAYERS, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        report = measure(args.database, args.layer, args.child, date.fromisoformat(args.run_date))
        args.report.write_text(json.dumps(report, indent=1, default=str))
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    if args.database:
        built = {"scale": args.scale, "database": str(args.database), "run_date": args.run_date}
    else:
        built = prepare(args.scale, args.out, args.real_data, args.seed, args.without_nowcast)
    results: dict = {"build": built, "layers": {}}
    ok = True
    for layer in args.layers:
        runs = {}
        for backend in args.backends:
            report = args.out / f"{args.scale:g}x-{layer}-{backend}.json"
            runs[backend] = run_child(
                Path(built["database"]), layer, backend, built["run_date"], report
            )
        agreement = compare(runs)
        ok &= all(r["status"] == "ok" for r in runs.values()) and not agreement["differ"]
        results["layers"][layer] = {"runs": runs, "agreement": agreement}
    target = args.out / f"gate-backends-{args.scale:g}x.json"
    target.write_text(json.dumps(results, indent=1, default=str))
    print_table(results)
    print(f"\nresults: {target}")
    return 0 if ok else 1


def print_table(results: dict) -> None:
    built = results["build"]
    print(f"scale {built['scale']:g}x, database {built['database']}")
    if built.get("models_skipped"):
        print(f"not built: {', '.join(built['models_skipped'])}")
    print(
        f"{'layer':<8} {'backend':<13} {'rows':>10} {'wall s':>7} {'work s':>7} "
        f"{'load s':>7} {'peak GiB':>8}  load avg"
    )
    for layer, entry in results["layers"].items():
        for backend, run in entry["runs"].items():
            if run["status"] != "ok":
                print(f"{layer:<8} {backend:<13} FAILED")
                continue
            work = run["load_s"] + run["validate_s"]
            print(
                f"{layer:<8} {backend:<13} {run['rows']:>10,} {run['wall_s']:>7.1f} "
                f"{work:>7.1f} {run['load_s']:>7.1f} {run['peak_rss_gib']:>8.2f}  "
                f"{run['load'][0]:.1f}-{run['load'][1]:.1f}"
            )
        agreement = entry["agreement"]
        print(
            f"  {layer}: {agreement['agree']} expectations agree "
            f"({len(agreement['failed_in_both'])} fail on both), "
            f"{len(agreement['differ'])} differ, {len(agreement['sql_only'])} SQL only, "
            f"{len(agreement['frames_only'])} frames only, {len(agreement['neither'])} neither"
        )
        for line in agreement["differ"] + agreement["frames_only"] + agreement["neither"]:
            print(f"    {line}")
        missing = {t for r in entry["runs"].values() for t in r.get("missing_tables", [])}
        if missing:
            print(f"    not built, not measured: {', '.join(sorted(missing))}")


if __name__ == "__main__":
    raise SystemExit(main())
