"""The `backfill` flow: recompute the ISO weeks a date range touches and republish them.

What an operator runs after a source was corrected or history for past dates became available.
One parameterised run per range (not one run per partition, not runs for past cron times): the
weekly tables have cross-week measures (cumulative counts, rolling averages), so the range is
rebuilt, gated and published as one snapshot, and the warehouse lock is taken once.

Steps: fetch the historical inputs that exist for the range (vintages whose as-of date falls in
it, plus the single-file sources), build every model in a work database, keep the rebuilt rows
only for the partitions the range touches and take every other partition from the current
snapshot, run the same gate as the nightly run, publish. Running the same backfill twice gives
identical tables: the kept partitions are the published ones and the rebuilt ones come from the
same raw files.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed

from flows.alerts import alert_on_failure
from flows.changes import changes_artifact
from flows.config import Settings, load_settings
from flows.errors import GateFailed, TollError
from flows.gate import blocking
from flows.models import Model
from flows.nightly import build_task, fetch_task, publish_task, report_task, validate_task
from flows.publish import current_snapshot, warehouse_lock
from flows.quality import run_docs
from flows.quarantine import new_run_id, record_new_rejects
from flows.raw_store import sources_in_use
from flows.recovery import sweep
from flows.region_check import quarantine_unmapped_regions
from flows.run_artifacts import completion_message, publish_run_artifacts
from flows.snapshots import prune
from flows.sources import Source, load_catalogue
from flows.sql_names import quoted
from flows.warehouse import work_database

WAR_START = date(2022, 2, 24)
# The partition of a row is the ISO week of this column; tables keyed by `week_start` or `date`
# need no entry. A vintage table is partitioned by the vintage: a backfill over the dates a
# vintage was published at recomputes that vintage's rows.
PARTITION_COLUMN = {"fct_named_vintages": "as_of"}


class BackfillRangeError(TollError):
    """A start/end pair that cannot be backfilled; raised before any work."""


def validate_range(start: object, end: object, today: date | None = None) -> tuple[date, date]:
    """ISO dates, start <= end, inside the war (2022-02-24 .. today); else a clear error."""
    today = today or datetime.now(UTC).date()
    parsed = []
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise BackfillRangeError(
                    f"backfill {name} {value!r}: expected an ISO date like 2024-01-31"
                ) from None
        if not isinstance(value, date):
            raise BackfillRangeError(f"backfill {name} {value!r}: expected an ISO date")
        parsed.append(value)
    first, last = parsed
    if first > last:
        raise BackfillRangeError(f"backfill start {first} is after end {last}")
    if first < WAR_START:
        raise BackfillRangeError(
            f"backfill start {first} is before the war began ({WAR_START}): nothing to compute"
        )
    if last > today:
        raise BackfillRangeError(f"backfill end {last} is in the future (today is {today})")
    return first, last


def week_bounds(start: date, end: date) -> tuple[date, date]:
    """Monday of the first and of the last ISO week the range touches."""
    return start - timedelta(days=start.weekday()), end - timedelta(days=end.weekday())


def range_inputs(
    catalogue: dict[str, Source], start: date, end: date, upstream: bool = False
) -> dict[str, Source]:
    """The files a backfill fetches: vintages published in the range, and every file that has
    no vintage date (those cover all dates, so they cover the range too). On upstream runs,
    also the dated daily files (the maps) of every day in the range."""
    chosen = {}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    for name, source in catalogue.items():
        files = tuple(f for f in source.files if f.as_of is None or start <= f.as_of <= end)
        if upstream:
            declared = {f.local for f in files}
            files += tuple(f for f in source.daily_files(days) if f.local not in declared)
        if files:
            chosen[name] = replace(source, files=files)
    return chosen


def partition_column(model: Model) -> str | None:
    if model.name in PARTITION_COLUMN:
        return PARTITION_COLUMN[model.name]
    for key in ("week_start", "date"):
        if key in model.keys:
            return key
    return None


def merge_partitions(
    con: duckdb.DuckDBPyConnection,
    models: list[Model],
    snapshot: Path,
    first_week: date,
    last_week: date,
) -> dict[str, int]:
    """Replace the rows outside the range's weeks by the published ones; rows rebuilt per table.

    Tables without a date partition (dimensions, regional and yearly aggregates) stay rebuilt
    whole: they summarise every week, the range's included."""
    rebuilt: dict[str, int] = {}
    for model in (m for m in models if m.published):
        column = partition_column(model)
        published = snapshot / f"{model.name}.parquet"
        if column is None or not published.exists():
            continue
        table = quoted(model.name)
        in_range = f"date_trunc('week', {quoted(column, 'partition column')}) between ? and ?"
        new_columns = [r[0] for r in con.execute(f"describe {table}").fetchall()]
        old = con.sql("describe select * from read_parquet(?)", params=[str(published)])
        old_columns = [r[0] for r in old.fetchall()]
        if new_columns != old_columns:
            raise TollError(
                f"backfill: {model.name} in the current snapshot has columns {old_columns}, "
                f"the models now make {new_columns}; run `toll run --rebuild` once first"
            )
        # the table keeps its key order: some expectations read rows in table order
        order = ", ".join(quoted(k, f"{model.name} key") for k in model.keys) or "all"
        con.execute(
            f"""
            create or replace table {table} as
            select * from (
                select * from {table} where {in_range}
                union all
                select * from read_parquet(?) where not ({in_range})
            )
            order by {order}
            """,
            [first_week, last_week, str(published), first_week, last_week],
        )
        rebuilt[model.name] = con.execute(
            f"select count(*) from {table} where {in_range}", [first_week, last_week]
        ).fetchall()[0][0]
    return rebuilt


@task(name="merge-partitions", cache_policy=NO_CACHE)
def merge_task(con, models: list[Model], snapshot: Path, first: date, last: date) -> dict:
    logger = get_run_logger()
    rebuilt = merge_partitions(con, models, snapshot, first, last)
    for name, rows in rebuilt.items():
        logger.info("%s: %d row(s) rebuilt in weeks %s..%s", name, rows, first, last)
    return rebuilt


@flow(
    name="backfill",
    flow_run_name="backfill-{start}..{end}",
    log_prints=False,
    on_failure=[alert_on_failure],
)
def backfill(
    start: date, end: date, settings: Settings | None = None, run_date: date | None = None
) -> dict:
    """Recompute the ISO weeks from `start` to `end` from the inputs for them; republish.

    `run_date` (default today) is the day the checks treat as today, as in `nightly`."""
    run_date = run_date or datetime.now(UTC).date()
    start, end = validate_range(start, end, today=run_date)
    logger = get_run_logger()
    settings = settings or load_settings()
    warehouse = settings.warehouse
    first_week, last_week = week_bounds(start, end)
    catalogue = load_catalogue(settings.catalogue)
    with warehouse_lock(warehouse):
        base = current_snapshot(warehouse)
        if base is None:
            raise TollError(
                f"no published snapshot in {warehouse} to backfill into: run `toll run` first"
            )
        for path in sweep(warehouse):
            logger.warning("removed %s, left by an interrupted run", path)
        fetched_at = datetime.now(UTC)
        outcomes = [
            fetch_task(settings, source, fetched_at)
            for source in range_inputs(
                catalogue, start, end, upstream=settings.source_dir is None
            ).values()
        ]
        run_id = new_run_id(fetched_at)
        if quarantined := record_new_rejects(warehouse, run_id, outcomes):
            logger.warning("%d row(s) quarantined: see `toll quarantine %s`", quarantined, run_id)
        with work_database(warehouse, fetched_at) as con:
            models = build_task(con, settings, catalogue)
            if unmapped := quarantine_unmapped_regions(con, warehouse, run_id):
                logger.warning("%d unknown region spelling(s) quarantined", unmapped)
            rebuilt = merge_task(con, models, base, first_week, last_week)
            checks = validate_task(con, settings, run_date, run_id)
            failed = blocking(checks)
            if failed:
                raise GateFailed([c.describe() for c in failed])
            sources = sources_in_use(warehouse, catalogue, settings.as_of)
            extra = {
                "backfill": {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "weeks": [first_week.isoformat(), last_week.isoformat()],
                    "based_on": base.name,
                    "rebuilt_rows": rebuilt,
                }
            }
            snapshot = publish_task(con, settings, models, checks, sources, None, extra)
            for name in prune(warehouse, settings.keep_snapshots):
                logger.info("deleted snapshot %s (keep_snapshots)", name)
    report_task(snapshot)
    publish_run_artifacts(
        outcomes,
        checks,
        snapshot,
        title=f"backfill {start}..{end}",
        docs=run_docs(warehouse, run_id),
    )
    changes_artifact(snapshot)
    logger.info("published %s (weeks %s..%s rebuilt)", snapshot, first_week, last_week)
    result = {"snapshot": str(snapshot), "weeks": [str(first_week), str(last_week)]}
    message = f"{completion_message(snapshot)}; weeks {first_week}..{last_week} rebuilt"
    return Completed(message=message, data=result)
