"""A backfill's range: checked dates, the inputs it fetches, and the partition merge.

The weekly tables have cross-week measures (cumulative counts, rolling averages), so a range is
rebuilt whole and only its partitions replace the published ones; every other partition is
taken from the current snapshot. Running the same backfill twice gives identical tables: the
kept partitions are the published ones and the rebuilt ones come from the same raw files.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.errors import TollError
from flows.s1_sources.catalogue import Source
from flows.s3_build.models import Model
from flows.warehouse.sql_names import quoted

WAR_START = date(2022, 2, 24)


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
    """The partition of a row is the ISO week of this column: the model's `-- partition:` (a
    vintage table is partitioned by the vintage, so a backfill over the dates a vintage was
    published at recomputes its rows), else its `week_start` or `date` key."""
    if model.header.partition:
        return model.header.partition
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
def merge_task(
    con: duckdb.DuckDBPyConnection, models: list[Model], snapshot: Path, first: date, last: date
) -> dict[str, int]:
    logger = get_run_logger()
    rebuilt = merge_partitions(con, models, snapshot, first, last)
    for name, rows in rebuilt.items():
        logger.info("%s: %d row(s) rebuilt in weeks %s..%s", name, rows, first, last)
    return rebuilt
