"""The `toll` command line."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from flows.cli.shutdown import skip_collection_at_exit
from flows.config import load_settings
from flows.errors import (
    PROGRESS_LOGGER,
    HideTollErrorTracebacks,
    TollError,
    printable,
    refused_write,
)
from flows.warehouse.layout import Warehouse as Store

# errno values of a folder that cannot be written: read-only, no permission, full disk, quota
UNWRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT}

# Click's plain help: typer's rich help showed every flag as taking a value (`--json <bool>`).
app = typer.Typer(
    help="toll: defensible fact tables of Russian military losses.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
# File content reaches the output (an error quoting a header, a quarantined value): printed as
# it is, never read as markup (`[red]`) or emoji codes (`:x:` became an emoji).
console = Console(emoji=False, markup=False, highlight=False)
err = Console(stderr=True, emoji=False, markup=False, highlight=False)

SourceDir = Annotated[
    Path | None, typer.Option(help="Read sources from local copies (e.g. ../shared/data).")
]
Warehouse = Annotated[Path | None, typer.Option(help="Warehouse folder (default ./warehouse).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _version(value: bool) -> None:
    if value:
        from flows import __version__

        console.print(f"toll {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """toll: defensible fact tables of Russian military losses."""


@app.command()
def run(
    source_dir: SourceDir = None,
    warehouse: Warehouse = None,
    demo: Annotated[
        bool, typer.Option(help="Run on generated sample sources, into ./warehouse-demo.")
    ] = False,
    as_json: AsJson = False,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Build from the data as it stood on this date (older vintages only).",
        ),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option(help="Rebuild and publish even when nothing changed.")
    ] = False,
    accept_shrink: Annotated[
        list[str] | None,
        typer.Option(
            "--accept-shrink",
            metavar="SOURCE",
            help="Accept that SOURCE lost dates or keys the current snapshot has (an upstream "
            "correction) for this run only; repeatable; recorded in the snapshot.",
        ),
    ] = None,
) -> None:
    """Run the nightly flow: fetch, build, gate and publish."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    if accept_shrink:
        from flows.s1_sources.catalogue import load_catalogue

        known = set(load_catalogue())
        if unknown := sorted(set(accept_shrink) - known):
            _print_error(
                TollError(
                    f"--accept-shrink {', '.join(unknown)}: no such source; expected one of "
                    f"{', '.join(sorted(known))}"
                )
            )
            raise typer.Exit(2)
    settings = load_settings(
        source_dir=source_dir,
        warehouse=warehouse,
        as_of=as_of.date() if as_of else None,
        accept_shrink=",".join(accept_shrink) if accept_shrink else None,
    )
    if demo:
        from flows.s1_sources.samples import write_sample_sources

        target = settings.warehouse if warehouse else Path("warehouse-demo").resolve()
        # on object storage the samples go to this host's working copy, not to the bucket
        sample_dir = write_sample_sources(
            Store.at(target, object_storage=True).sample_sources_folder()
        )
        settings = load_settings(source_dir=sample_dir, warehouse=target, verify_checksums=False)
    from flows.ops.local_api import start_local_api

    # Prefect's temporary server boots while the sources are checked (2.5-3 s to answer, from
    # its own process; the check at 100x 0.1-0.75 s): stopped unused if nothing changed
    api = start_local_api()
    from flows.s5_publish.fingerprint import standing_snapshot

    where = settings.source_dir or "upstream URLs"
    store = Store.at(settings.warehouse, object_storage=True)
    err.print(f"toll: nightly run, sources from {where}, warehouse {store}")
    started = time.monotonic()
    from flows.warehouse.snapshots import read_pin
    from flows.warehouse.working_copy import pull, working_copy

    try:
        pin = read_pin(store)
        if pin:
            err.print(
                f"toll: current is pinned to snapshot {pin['snapshot']} by `toll rollback`: "
                "nothing is fetched or published until `toll rollback --release`"
            )
        work = working_copy(store)  # on object storage: this host's copy, bound to the bucket
        if work.remote is not None and not (rebuild or pin):
            pull(work)
        same = None if rebuild or pin else standing_snapshot(settings, work)
        if same is not None:
            from flows.pipeline.run import RunResult

            api.stop()
            err.print("toll: no source file changed: no flow ran, nothing recorded in Prefect")
            from flows.warehouse.recovery import sweep_if_idle

            # a run killed after its switch of `current` left its scratch database: this run
            # finds nothing new, but still clears that
            for path in sweep_if_idle(work):
                err.print(f"toll: removed {path}, left by an interrupted run")
            result = RunResult("nightly", str(same), 0, unchanged=True)
        else:
            from flows.warehouse.lock import refuse_unwritable

            refuse_unwritable(work)
            from flows.nightly import nightly
            from flows.pipeline.run import import_slow_modules

            with api.serving(meanwhile=import_slow_modules):
                result = nightly(settings=settings, rebuild=rebuild)
    except TollError as exc:
        _print_error(exc)
        raise typer.Exit(1) from None
    from flows.s6_report.headline import headline  # altair: imported after the server starts

    figures = headline(Path(result.snapshot))
    elapsed = time.monotonic() - started
    if as_json:
        console.print_json(json.dumps(_run_json(result, figures, elapsed), default=str))
        return
    current = store.current_folder()
    if store.on_object_storage():
        current = f"{store.storage.uri('current.json')} -> snapshots/{Path(result.snapshot).name}"
    _print_headline(result, figures, elapsed, current)


def _run_json(result, figures: dict, elapsed: float) -> dict:
    """A run's result for scripts: ids as ids, numbers as numbers, records as objects."""
    output = {**asdict(result), **figures, "seconds": round(elapsed, 3)}
    output["snapshot_path"] = output["snapshot"]
    output["snapshot"] = Path(result.snapshot).name
    week = figures.get("latest_complete_week")
    if isinstance(week, list | tuple):
        output["latest_complete_week"] = {"week_start": week[0], "named_deaths": week[1]}
    return output


def _print_headline(result, figures: dict, elapsed: float, current: Path | str) -> None:
    from flows.s6_report.headline import nowcast_line

    snapshot = Path(result.snapshot)
    if result.unchanged:
        console.print(f"Snapshot {snapshot.name} stands (checked in {elapsed:.1f} s)")
        console.print("  nothing changed since it was built: nothing fetched anew or rebuilt")
    else:
        console.print(f"Published snapshot {snapshot.name} in {elapsed:.1f} s")
    console.print(f"  tables: {current} (Parquet + toll.duckdb)")
    if not result.unchanged and result.new_files == 0:
        console.print("  no source changed since the last run: nothing was parsed again")
    as_of = figures["as_of"]
    title = f"Named deaths by date of death (Mediazona vintage {as_of})"
    if figures.get("invented"):
        title = f"INVENTED SAMPLE DATA (toll run --demo), not real figures: {title}"
    table = Table(title=title)
    table.add_column("year")
    table.add_column("named deaths", justify="right")
    table.add_column(f"claimed personnel (UA GS, to {as_of})", justify="right")
    table.add_column("state")
    states = figures.get("state_by_year", {})
    for year in sorted(set(figures["named_by_year"]) | set(figures["claimed_by_year"])):
        named = figures["named_by_year"].get(year)
        claimed = figures["claimed_by_year"].get(year)
        table.add_row(
            str(year),
            f"{named:,}" if named is not None else "-",
            f"{claimed:,}" if claimed else "-",
            STATE_WORDS.get(states.get(year), "-"),
        )
    table.add_row("total", f"{figures['named_total']:,}", "", "still growing")
    console.print(table)
    console.print(
        "  provisional: names for it still arrive (for about two years); "
        "partial: not over at the vintage date"
    )
    if nowcast := nowcast_line(figures):
        console.print(f"Latest week with a nowcast: {nowcast}")
    week = figures["latest_complete_week"]
    if week:
        console.print(
            f"Latest complete week (no longer growing much): {week[0]} with {week[1]:,} "
            "named deaths"
        )


STATE_WORDS = {
    "complete": "complete",
    "provisional": "provisional",
    "partial": "partial (year not over)",
}


@app.command()
def init(
    source_dir: SourceDir = None,
    warehouse: Warehouse = None,
) -> None:
    """Remember settings for this project in toll.toml: every later command, worker and
    deployment started here reads them (flags and TOLL_* variables still override)."""
    from flows.config import remember

    path, held = remember(source_dir=source_dir, warehouse=warehouse)
    console.print(f"{path}: " + (", ".join(f"{k} = {v}" for k, v in held.items()) or "defaults"))


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (ISO).")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day (ISO).")],
    submit: Annotated[
        bool, typer.Option(help="Submit to the `backfill` deployment on the Prefect server.")
    ] = False,
    source_dir: SourceDir = None,
    warehouse: Warehouse = None,
    as_json: AsJson = False,
) -> None:
    """Recompute the ISO weeks from START to END and republish them (locally or on a worker)."""
    from flows.backfill import validate_range
    from flows.ops.operations import run_tags, submit_backfill

    first, last = validate_range(start.date(), end.date())
    if submit:
        created = submit_backfill(first, last)
        if as_json:
            console.print_json(json.dumps(created))
            return
        console.print(f"Submitted {created['name']} ({created['state']}), run id {created['id']}")
        if created["url"]:
            console.print(f"  follow it at {created['url']}")
        return
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.ops.local_api import start_local_api
    from flows.warehouse.lock import refuse_unwritable
    from flows.warehouse.working_copy import working_copy

    settings = load_settings(source_dir=source_dir, warehouse=warehouse)
    store = Store.at(settings.warehouse, object_storage=True)
    refuse_unwritable(working_copy(store))
    api = start_local_api()  # boots before Prefect is imported
    from prefect import tags

    from flows.backfill import backfill as backfill_flow
    from flows.pipeline.run import import_slow_modules

    err.print(f"toll: backfill {first}..{last}, warehouse {store}")
    started = time.monotonic()
    with api.serving(meanwhile=import_slow_modules), tags(*run_tags("backfill", first, last)):
        result = backfill_flow(start=first, end=last, settings=settings)
    elapsed = time.monotonic() - started
    if as_json:
        output = {**asdict(result), "seconds": round(elapsed, 3)}
        output["snapshot_path"], output["snapshot"] = result.snapshot, Path(result.snapshot).name
        console.print_json(json.dumps(output))
        return
    weeks = result.weeks
    console.print(f"Published snapshot {Path(result.snapshot).name} in {elapsed:.1f} s")
    console.print(f"  ISO weeks {weeks[0]} .. {weeks[1]} rebuilt; other weeks kept as published")


@app.command()
def history(
    limit: Annotated[
        int,
        typer.Option(
            min=1, max=200, help="How many runs, newest first (the API gives 200 at most)."
        ),
    ] = 20,
    as_json: AsJson = False,
) -> None:
    """Recent nightly and backfill runs from the Prefect API: state, duration, rows, gate."""
    from flows.ops.operations import recent_runs

    runs = recent_runs(limit)
    if as_json:
        console.print_json(json.dumps(runs))
        return
    table = Table("run", "state", "started (UTC)", "seconds", "rows published", "gate", "message")
    for r in runs:
        table.add_row(
            r["name"],
            r["state"],
            (r["started"] or "-")[:19],
            f"{r['seconds']:.1f}" if r["seconds"] is not None else "-",
            f"{r['rows_published']:,}" if r["rows_published"] is not None else "-",
            r["gate"] or "-",
            r["message"],  # wrapped by the table, never cut
        )
    console.print(table)


@app.command()
def sources(as_json: AsJson = False) -> None:
    """List the declared sources and where each is read from."""
    from flows.s1_sources.catalogue import load_catalogue

    settings = load_settings()
    catalogue = load_catalogue(settings.catalogue)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    s.name: {
                        "title": s.title,
                        "licence": s.licence,
                        "terms": [asdict(t) for t in s.terms],
                        "files": [f.location(settings) for f in s.files],
                    }
                    for s in catalogue.values()
                }
            )
        )
        return
    table = Table("source", "files", "first file", "licence")
    for s in catalogue.values():
        table.add_row(s.name, str(len(s.files)), s.files[0].location(settings), s.licence)
    console.print(table)


@app.command()
def snapshots(warehouse: Warehouse = None, as_json: AsJson = False) -> None:
    """List published snapshots (newest last) with their run, time and gate result."""
    from flows.warehouse.snapshots import current_snapshot, list_snapshots

    store = _store(warehouse, object_storage=True)
    current = current_snapshot(store)
    if as_json:
        listed = [
            {
                "snapshot": meta["snapshot"],
                "published_at": meta["published_at"],
                "run": meta.get("run", {}).get("flow_run_name"),
                "tables": meta.get("tables", {}),
                "gate": meta.get("gate", {}),
                "current": bool(current and current.name == meta["snapshot"]),
            }
            for meta in list_snapshots(store)
        ]
        console.print_json(json.dumps(listed))
        return
    table = Table("snapshot", "published at", "run", "gate", "current")
    for meta in list_snapshots(store):
        gate = meta["gate"]
        table.add_row(
            meta["snapshot"],
            meta["published_at"],
            meta.get("run", {}).get("flow_run_name", "-"),
            f"passed: {gate['expectations']} expectations, {gate['failed_warnings']} warning(s)",
            "*" if current and current.name == meta["snapshot"] else "",
        )
    console.print(table)


@app.command()
def report(
    warehouse: Warehouse = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the report (default <warehouse>/reports/<snapshot>)."),
    ] = None,
) -> None:
    """Write the HTML report and PNG charts for the current snapshot (which stays untouched)."""
    from flows.s6_report import REPORT_HTML, write_report
    from flows.warehouse.layout import REPORTS
    from flows.warehouse.snapshots import require_current
    from flows.warehouse.working_copy import push_outputs, reading_copy

    store = _store(warehouse, object_storage=True)
    name = require_current(store).name
    # on object storage: written in this host's copy of the snapshot, uploaded as objects
    work = reading_copy(store, name)
    snapshot = work.snapshot_folder(name)
    target = out or work.report_folder(name)
    fresh = out is None and not target.exists()
    try:
        written = write_report(snapshot, target)
    except OSError as exc:
        if fresh:  # a full disk: no half-written report is left in the warehouse
            shutil.rmtree(target, ignore_errors=True)
        if out is not None or exc.errno not in UNWRITABLE:
            raise
        raise TollError(
            f"cannot write the report to {target} ({exc.strerror}): give a folder you can "
            "write with --out DIR"
        ) from None
    console.print(f"Report for snapshot {name}: {written / REPORT_HTML}")
    if work.remote is not None and out is None:
        key = f"{REPORTS}/{name}"
        push_outputs(work, [key])
        console.print(f"  uploaded to {work.remote.uri(key)}/")
        # one self-contained page (charts inline): a presigned link opens it in any browser
        link = work.remote.presigned(f"{key}/{REPORT_HTML}")
        console.print(f"  link (valid 7 days): {link}", soft_wrap=True)  # never cut
    console.print(f"  the nightly run's copy is in {store.storage.uri(f'snapshots/{name}/report')}")


@app.command()
def rollback(
    snapshot: Annotated[
        str | None, typer.Argument(help="Snapshot id (default: the one before the current).")
    ] = None,
    warehouse: Warehouse = None,
    pin: Annotated[
        bool, typer.Option(help="Keep it current: runs publish nothing until released.")
    ] = True,
    release: Annotated[
        bool, typer.Option("--release", help="Release the pin; the next run publishes again.")
    ] = False,
) -> None:
    """Make an earlier published snapshot current (one atomic switch) and pin it there."""
    from flows.s5_publish.snapshots import release as release_pin
    from flows.s5_publish.snapshots import rollback as roll_back

    store = _store(warehouse, object_storage=True)
    if release:
        pin = release_pin(store)
        console.print(f"released the pin on {pin['snapshot']}" if pin else "nothing was pinned")
        return
    target = roll_back(store, snapshot, pin=pin)
    console.print(f"current is now snapshot {target.name}")
    if pin:
        console.print("  pinned: runs publish nothing until `toll rollback --release`")


@app.command()
def validate(
    snapshot: Annotated[
        str | None, typer.Argument(help="Snapshot id (default: the current one).")
    ] = None,
    warehouse: Warehouse = None,
    docs: Annotated[bool, typer.Option(help="Write GX Data Docs for this validation.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Run every suite in expectations/ against a published snapshot; exit 1 on an error."""
    from datetime import UTC

    from flows.s4_gate.gate import validate_snapshot
    from flows.s4_gate.suites import blocking
    from flows.warehouse.layout import DOCS
    from flows.warehouse.snapshots import resolve
    from flows.warehouse.working_copy import push_outputs, reading_copy

    settings = load_settings(warehouse=warehouse)
    store = _store(warehouse, object_storage=True)
    name = resolve(store, snapshot).name
    started = time.monotonic()
    # on object storage: this host's copy of the snapshot, the one before it and its raw files
    work = reading_copy(store, name, validating=True)
    target = work.snapshot_folder(name)
    try:
        outcome = validate_snapshot(settings, work, target, datetime.now(UTC).date(), docs=docs)
    except OSError as exc:
        if not docs or exc.errno not in UNWRITABLE:
            raise
        raise TollError(
            f"cannot write Data Docs to {work.docs_folder(f'validate-{name}')} "
            f"({exc.strerror}): run `toll validate --no-docs` to check without writing"
        ) from None
    if outcome.docs and work.remote is not None:
        push_outputs(work, [f"{DOCS}/validate-{name}"])
    checks = outcome.gate.checks
    failed = [c for c in checks if not c.success]
    if as_json:
        console.print_json(json.dumps([c.__dict__ for c in checks], default=str))
    else:
        for check in failed:
            colour = "red" if check.severity == "error" else "yellow"
            console.print(Text.assemble((check.severity, colour), " ", check.describe()))
        console.print(
            f"snapshot {target.name}: {len(checks)} expectations, "
            f"{len(blocking(checks))} failed errors, "
            f"{sum(c.severity == 'warning' for c in failed)} warnings "
            f"in {time.monotonic() - started:.1f} s"
        )
        if outcome.docs:
            console.print(f"Data Docs: {outcome.docs}")
            if work.remote is not None:
                console.print(f"  uploaded to {work.remote.uri(f'{DOCS}/validate-{name}')}/")
    if blocking(checks):
        raise typer.Exit(1)


@app.command()
def docs(
    warehouse: Warehouse = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port (default: the one in the docs_url setting)."),
    ] = None,
) -> None:
    """Serve the runs' Data Docs over HTTP on loopback, where the Prefect UI's links point."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlparse

    from flows.warehouse.layout import DOCS
    from flows.warehouse.working_copy import pull_prefix, working_copy

    settings = load_settings(warehouse=warehouse)
    store = working_copy(_store(warehouse, object_storage=True))
    if store.remote is not None:
        pull_prefix(store, DOCS)  # on object storage: served from this host's working copy
    folder = store.docs_root()
    if not folder.is_dir():
        raise TollError(f"no Data Docs in {folder}: a run's gate writes them (`toll run`)")
    url = urlparse(settings.docs_url)
    # loopback only: the docs name tables and expectations, nothing to show to a network
    host, port = "127.0.0.1", port or url.port or 8765

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # a request per line is noise
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise TollError(f"cannot serve Data Docs on {host}:{port} ({exc.strerror})") from None
    newest = max(folder.glob("*/index.html"), key=lambda p: p.stat().st_mtime, default=None)
    console.print(f"Data Docs of {folder} on http://{host}:{port}/ (Ctrl-C stops)")
    if newest is not None:
        console.print(f"latest run: http://{host}:{port}/{newest.parent.name}/index.html")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command()
def cite(
    snapshot: Annotated[
        str | None, typer.Argument(help="Snapshot id (default: the current one).")
    ] = None,
    warehouse: Warehouse = None,
    cff: Annotated[bool, typer.Option("--cff", help="Print CITATION.cff instead.")] = False,
    licences: Annotated[
        bool, typer.Option("--licences", help="Print each table's licence and obligations.")
    ] = False,
) -> None:
    """Citation text naming the snapshot and its sources, ready to paste (or its licences)."""
    from flows.s5_publish.exports import CITATION_CFF, CITATION_TXT, LICENSES_MD
    from flows.warehouse.snapshots import local_object, resolve

    store = _store(warehouse, object_storage=True)
    target = resolve(store, snapshot)
    name = LICENSES_MD if licences else CITATION_CFF if cff else CITATION_TXT
    path = local_object(store, f"snapshots/{target.name}/{name}")  # on S3: fetched to the mirror
    if not path.exists():
        raise TollError(
            f"snapshot {target.name} has no {name}: it was published before toll wrote "
            "citations and licences; the next published snapshot has them"
        )
    typer.echo(path.read_text(encoding="utf-8"), nl=False)


@app.command()
def explain(
    table: Annotated[str, typer.Argument(help="Published table, e.g. fct_weekly_losses.")],
    key: Annotated[
        list[str], typer.Option("--key", help="COLUMN=VALUE of the row (repeat per key column).")
    ],
    measure: Annotated[
        list[str] | None, typer.Option("--measure", help="Only these columns (repeatable).")
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option(help="Snapshot id (default: the current one).")
    ] = None,
    warehouse: Warehouse = None,
    as_json: AsJson = False,
) -> None:
    """Where a published row's figures came from: models, raw files, rows, expectations."""
    from flows.lineage.explain import explain as explain_row
    from flows.lineage.explain import render

    given = {}
    for item in key:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise TollError(f"--key {item!r}: expected COLUMN=VALUE, e.g. week_start=2024-08-05")
        given[column.strip()] = value.strip()
    from flows.warehouse.snapshots import local_copy, resolve

    # on object storage: the snapshot copied into this host's mirror, older ones object by object
    store = _store(warehouse, object_storage=True)
    result = explain_row(
        store, local_copy(store, resolve(store, snapshot).name), table, given, measure
    )
    if as_json:
        typer.echo(json.dumps(result, indent=1, default=str))
    else:
        typer.echo(render(result), nl=False)


@app.command()
def diff(
    snapshot_a: Annotated[
        str | None, typer.Argument(help="Older snapshot (default: the one before B).")
    ] = None,
    snapshot_b: Annotated[
        str | None, typer.Argument(help="Newer snapshot (default: the current one).")
    ] = None,
    warehouse: Warehouse = None,
    as_json: AsJson = False,
) -> None:
    """Rows added, removed and changed per table between two snapshots, and why."""
    from flows.lineage.diff import diff_snapshots, render_markdown
    from flows.warehouse.snapshots import local_copy, previous, resolve

    # on object storage both snapshots are read from this host's mirror (fetched once each)
    store = _store(warehouse, object_storage=True)
    b = resolve(store, snapshot_b)
    if snapshot_a is None:
        snapshot_a = previous(store, before=b.name)
        if snapshot_a is None:
            raise TollError(f"no snapshot older than {b.name} to compare with")
    a = resolve(store, snapshot_a)
    result = diff_snapshots(local_copy(store, a.name), local_copy(store, b.name))
    if as_json:
        typer.echo(json.dumps(result, indent=1, default=str))
    else:
        typer.echo(render_markdown(result), nl=False)


def _store(warehouse: Path | None, object_storage: bool = False) -> Store:
    """The warehouse a command reads (--warehouse, else the settings'); it must exist.

    `object_storage`: the command works through the storage seam only, so an s3:// URL will do."""
    store = Store.at(load_settings(warehouse=warehouse).warehouse, object_storage)
    if not store.exists():
        if store.on_object_storage():
            raise TollError(f"no warehouse at {store}: nothing is stored under that prefix")
        raise TollError(
            f"no warehouse at {store}: run `toll run` first, or point --warehouse (or "
            "TOLL_WAREHOUSE, or `warehouse` in toll.toml) at one"
        )
    return store


@app.command()
def quarantine(
    run: Annotated[
        str | None, typer.Argument(help="Run id (default: the latest run; '*' for every run).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only rows of this source.")] = None,
    warehouse: Warehouse = None,
    runs: Annotated[bool, typer.Option("--runs", help="List runs with quarantined rows.")] = False,
    limit: Annotated[int, typer.Option(min=0, help="Rows to show (0 = all).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """List quarantined rows: source, raw file sha256, row, expectation, offending value."""
    from flows.s4_gate import quarantine as q
    from flows.warehouse.layout import QUARANTINE
    from flows.warehouse.working_copy import pull_prefix, working_copy

    store = working_copy(_store(warehouse, object_storage=True))
    if store.remote is not None:
        pull_prefix(store, QUARANTINE)  # each run's parts are written once: fetched once
    if runs:
        for run_id in q.list_runs(store):
            console.print(run_id)
        return
    _check_quarantine_query(store, run, source)
    with q.streamed(store, run, source, 0 if as_json else limit) as found:
        if as_json:
            _write_lines(found.json(), "[\n  ", ",\n  ", "\n]\n", "[]\n")
            # stdout stays the rows' JSON; the failed checks' files are said on stderr
            _print_gate_failures(store, run, err)
            return
        summary = found.summary()
        if not summary:
            console.print("no quarantined rows" + (f" for run {run}" if run else ""))
            _print_gate_failures(store, run)
            return
        counts = Table("run", "source", "stage", "expectation", "rows", title="Quarantined rows")
        for run_id, name, stage, expectation, count in summary:
            counts.add_row(run_id, name, stage, expectation, f"{count:,}")
        console.print(counts)
        # rich lays a table out at 1.5 ms a row (minutes for 100,000): plain lines instead,
        # values printed as they are, never cut
        _write_lines(found.table(ROW_COLUMNS, CELL_CAP), "", "\n", "\n", "")
    _print_gate_failures(store, run)


# The quarantined rows' columns as `toll quarantine` prints them: the SQL of each cell's text.
ROW_COLUMNS = {
    "source": "coalesce(source, '')",
    "file": "coalesce(file, '')",
    "sha256": "coalesce(left(file_sha256, 12), '')",
    "row": "coalesce(cast(\"row\" as varchar), '')",
    "expectation": "coalesce(expectation, '')",
    "column": "coalesce(\"column\", '')",
    "value": "coalesce(\"value\", '')",
    "reason": "coalesce(reason, '')",
}
# Widest a column is padded to: a longer value is printed whole, past the column's edge.
CELL_CAP = 60


def _write_lines(batches, start: str, between: str, end: str, empty: str) -> None:
    """Text lines batch by batch to stdout: `start`, the lines joined by `between`, `end`
    (`empty` when there are none): never the whole output in memory."""
    out = sys.stdout
    first = True
    for lines in batches:
        if lines:
            out.write((start if first else between) + between.join(lines))
            first = False
    out.write(empty if first else end)
    out.flush()


def _print_gate_failures(store: Store, run: str | None, to: Console = console) -> None:
    """Each failed check's file of all its failing rows (quarantine/<run>/gate-failures/), one
    line each, never cut: the path is what the operator opens next."""
    from flows.s4_gate import quarantine as q
    from flows.s4_gate.failures import read_failure_files

    lines = []
    for run_id in q.selected_runs(store, run):
        for item in read_failure_files(store, run_id):
            rows = f"{item.rows:,} rows" if item.rows >= 0 else "unreadable"
            lines.append(f"  {run_id} {item.check}: {rows}, {item.path}")
    if lines:
        to.print(
            "\n".join(["Failing rows of the gate's checks (all rows, Parquet):", *lines]),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _check_quarantine_query(store: Store, run: str | None, source: str | None) -> None:
    """An unknown run id or source is an error naming the known ones, not "no rows"."""
    from flows.s1_sources.catalogue import load_catalogue
    from flows.s4_gate import quarantine as q

    if source is not None and source not in (known := load_catalogue()):
        raise TollError(
            f"--source {source!r}: no such source; expected one of {', '.join(sorted(known))}"
        )
    if run is None or run == "*":
        return
    q.run_folder(store, run)  # letters, digits and '_.:-' only
    runs = q.list_runs(store)
    if run in runs or store.docs_folder(run).is_dir() or store.quarantine_folder(run).is_dir():
        return  # a run toll knows (it may have quarantined nothing)
    listed = ", ".join(runs[-5:]) or "none has quarantined rows"
    raise TollError(
        f"no run {run!r} in {store} (latest with quarantined rows: {listed}; "
        "`toll quarantine --runs` lists them all)"
    )


def _print_error(exc: TollError) -> None:
    # Unwrapped (URLs stay whole) and not read as rich markup ("['total']" is not a style).
    err.print(f"toll: {printable(exc)}", style="red", soft_wrap=True)


server_app = typer.Typer(help="A local Prefect server and toll's deployments.")
app.add_typer(server_app, name="server")


@server_app.command("start")
def server_start(
    host: Annotated[str, typer.Option(help="Listen address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API and UI.")] = 4200,
) -> None:
    """Run the Prefect server and UI (SQLite in PREFECT_HOME, or the database in
    PREFECT_API_DATABASE_CONNECTION_URL); then `export PREFECT_API_URL=http://HOST:PORT/api`."""
    from flows.ops.server import quiet_env, start_command

    err.print(f"toll: Prefect UI at http://{host}:{port}, API at http://{host}:{port}/api")
    command = start_command(host, port)
    # the UI calls the API at PREFECT_UI_API_URL, which does not follow --port by itself
    env = quiet_env()
    env.setdefault("PREFECT_UI_API_URL", f"http://{host}:{port}/api")
    os.execvpe(command[0], command, env)


@server_app.command("deploy")
def server_deploy() -> None:
    """Create the `toll` work pool (one run at a time), deploy nightly and backfill, and the
    automations that mark runs of a dead host Crashed and alert on crashed runs."""
    from flows.config import load_settings
    from flows.ops.server import WORK_POOL, deploy

    webhook = load_settings().alert_webhook
    automations = deploy(webhook=webhook)
    console.print(f"Deployed nightly (02:00 UTC) and backfill to work pool '{WORK_POOL}'.")
    console.print(f"  automations: {', '.join(automations)}")
    if not webhook:
        console.print("  no alert_webhook set: crashed runs are marked, not alerted")
    console.print(
        f"  start a worker: TOLL_PROJECT_DIR=$PWD prefect worker start --pool {WORK_POOL}"
    )


def main() -> None:
    skip_collection_at_exit()
    # one format for every log line the CLI prints (Prefect's), and toll's own progress lines
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s",
        datefmt="%H:%M:%S",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(HideTollErrorTracebacks())
    progress = logging.getLogger(PROGRESS_LOGGER)
    progress.setLevel(logging.INFO)
    # Prefect's temporary server gets 20 s to start by default; on a busy 2-core machine it
    # took longer (a `toll run` ended in "Timed out while attempting to connect"), so allow more.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the handled kinds become one line, others re-raise
        code = handle_error(exc)
        if code is None:
            raise
        sys.exit(code)


def handle_error(exc: BaseException) -> int | None:
    """Print a user-facing error as one line and return the exit code; None: not one of ours
    (a bug, whose traceback is then worth having)."""
    if isinstance(exc, TollError):
        _print_error(exc)
        return 1
    if isinstance(exc, OSError):
        # a full disk, a read-only or missing folder: the system's words and the path, one line
        where = f": {exc.filename}" if exc.filename else ""
        _print_error(TollError(f"{exc.strerror or exc}{where}"))
        return 1
    if refused := refused_write(exc):  # DuckDB's words for a full disk or read-only folder
        path, reason = refused
        _print_error(TollError(f"{reason} writing {path}"))
        return 1
    if isinstance(exc, RuntimeError) and "Prefect API" in str(exc):
        _print_error(
            TollError(
                f"Prefect could not start its local server ({' '.join(str(exc).split())}); "
                "retry, or start one with `toll server start` and set PREFECT_API_URL"
            )
        )
        return 1
    return None


if __name__ == "__main__":
    main()
