"""After an outage the scheduler leaves a pile of late nightly runs: the first catches up (a
nightly run always takes everything new since the last publish), the later ones are skipped."""

from __future__ import annotations

from datetime import datetime


def superseded_by(scheduled: datetime, flow_name: str = "nightly") -> str | None:
    """The name of a completed run of `flow_name` that started after `scheduled`, if any."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            flow_run_filter=FlowRunFilter(
                start_time=FlowRunFilterStartTime(after_=scheduled),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])),
            ),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    return runs[0].name if runs else None


def skip_message(scheduled: datetime, by: str) -> str:
    return (
        f"skipped: this run was due at {scheduled:%Y-%m-%d %H:%M} UTC and run {by}, which "
        "started later, already caught up everything new"
    )
