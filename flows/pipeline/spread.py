"""Spread the fetch and parse of large sources over the work pool (`ingest-part` flow runs).

On object storage, in a run started from a deployment, a source with more files to fetch than
`ingest_spread_files` is cut into parts of at most that many files; each part is a flow run of
the `ingest-part` deployment (queue `ingest`, no concurrency limit) that any worker takes. The
run waits for every part, pulls the objects they stored into its working copy, and then fetches
as usual: it finds those files stored and parses nothing twice. The run history shows each part
and its host. Anywhere else (a local warehouse, `toll run` by hand) nothing changes.
"""

from __future__ import annotations

import time
from datetime import datetime

from prefect import get_run_logger

from flows.config import Settings
from flows.errors import TollError
from flows.ops.host import deployment_id
from flows.s1_sources.catalogue import Source
from flows.s2_ingest.collect import files_to_fetch
from flows.warehouse.layout import Warehouse
from flows.warehouse.working_copy import pull_raw

INGEST_PART = "ingest-part/ingest-part"
POLL_SECONDS = 2.0


def parts_of(
    settings: Settings, sources: dict[str, Source], fetched_at: datetime
) -> list[tuple[str, list[str]]]:
    """(source, files) of each part: the sources with more files than the setting, cut."""
    size = settings.ingest_spread_files
    parts = []
    for source in sources.values():
        files = [spec.local for spec in files_to_fetch(settings, source, fetched_at.date())]
        if size <= 0 or len(files) <= size:
            continue
        parts += [(source.name, files[i : i + size]) for i in range(0, len(files), size)]
    return parts


def spread_ingest(
    settings: Settings, warehouse: Warehouse, sources: dict[str, Source], fetched_at: datetime
) -> int:
    """Run the parts on the pool and pull what they stored; returns how many parts ran."""
    if warehouse.remote is None or deployment_id() is None:
        return 0  # only a deployment's run on a bucket has a pool to spread over
    parts = parts_of(settings, sources, fetched_at)
    if not parts:
        return 0
    from prefect import get_client
    from prefect.deployments import run_deployment

    logger = get_run_logger()
    runs = [
        run_deployment(
            INGEST_PART,
            parameters={"source": name, "files": files, "fetched_at": fetched_at},
            flow_run_name=f"ingest-part-{name}-{number}-of-{len(parts)}",
            timeout=0,  # submitted, not awaited: the parts run side by side
            tags=["toll", "ingest-part"],
        )
        for number, (name, files) in enumerate(parts, start=1)
    ]
    logger.info("%d ingest part(s) submitted to the pool", len(runs))
    deadline = time.monotonic() + settings.ingest_part_timeout_minutes * 60
    pending = {run.id: run.name for run in runs}
    with get_client(sync_client=True) as client:
        while pending:
            for run_id, name in list(pending.items()):
                state = client.read_flow_run(run_id).state
                if state is None or not state.is_final():
                    continue
                del pending[run_id]
                if not state.is_completed():
                    raise TollError(
                        f"ingest part {name} ended {state.name}: {state.message or 'no message'}"
                        " (its files were not stored; run again)"
                    )
            if pending and time.monotonic() > deadline:
                raise TollError(
                    f"{len(pending)} ingest part(s) not finished within "
                    f"ingest_part_timeout_minutes ({settings.ingest_part_timeout_minutes:g}): "
                    f"{', '.join(sorted(pending.values()))}; is a worker serving the pool's "
                    "`ingest` queue?"
                )
            if pending:
                time.sleep(POLL_SECONDS)
    pull_raw(warehouse)  # the parts' objects and entries into this host's working copy
    return len(runs)
