"""The `backfill` flow: recompute the ISO weeks a date range touches and republish them.

What an operator runs after a source was corrected or history for past dates became available.
One parameterised run per range (not one run per partition, not runs for past cron times): the
range is rebuilt, gated and published as one snapshot under one lock. The run itself is the
shared skeleton (flows/pipeline/run.py); the range's rules are in flows/pipeline/backfill_range.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow
from prefect.states import State

from flows.config import Settings, load_settings
from flows.ops.alerts import alert_on_failure
from flows.pipeline.backfill_range import (
    BackfillRangeError,
    merge_task,
    range_inputs,
    validate_range,
    week_bounds,
)
from flows.pipeline.run import RunPlan, run_pipeline

__all__ = ["BackfillRangeError", "backfill", "validate_range"]


@flow(
    name="backfill",
    flow_run_name="backfill-{start}..{end}",
    log_prints=False,
    on_failure=[alert_on_failure],
)
def backfill(
    start: date, end: date, settings: Settings | None = None, run_date: date | None = None
) -> State:
    """Recompute the ISO weeks from `start` to `end` from the inputs for them; republish.

    `run_date` (default today) is the day the checks treat as today, as in `nightly`."""
    run_date = run_date or datetime.now(UTC).date()
    start, end = validate_range(start, end, today=run_date)
    settings = settings or load_settings()
    first, last = week_bounds(start, end)
    plan = RunPlan(
        kind="backfill",
        title=f"backfill {start}..{end}",
        select=lambda catalogue: range_inputs(
            catalogue, start, end, upstream=settings.source_dir is None
        ),
        fingerprint=False,  # so the next nightly run rebuilds every week from all inputs
        merge=lambda con, models, base: merge_task(con, models, base, first, last),
        weeks=(first, last),
        extra={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "weeks": [first.isoformat(), last.isoformat()],
        },
    )
    return run_pipeline(settings, run_date, plan)
