"""Parse many new files at once: in worker processes when the format is heavy and files many.

Map snapshots are independent and their geometry work is CPU-bound, so a cold run over many
maps uses every core; a nightly with one new map parses it in-process (no pool to start).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from flows.ingest import deepstate
from flows.ingest.formats import parser_for
from flows.ingest.parsing import Parsed

# Heavy formats: a function measuring one file as a plain dict (run in the workers) and one
# turning those dicts into parsed rows (run here). Workers are forked: they must not touch
# Polars, whose thread pool does not survive a fork.
HEAVY_FORMATS: dict[str, tuple[Callable[[str, str, bytes], dict], Callable]] = {
    "deepstate_geojson": (deepstate.measure_snapshot, deepstate.to_parsed),
}
# Below this many files a pool costs more to start than it saves.
MIN_FILES_FOR_POOL = 4


def workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_many(
    format_name: str, source: str, files: list[tuple[str, bytes]], max_workers: int | None = None
) -> list[Parsed]:
    """Parsed rows of each (file, content), in the order given."""
    processes = min(max_workers or workers(), len(files))
    if format_name not in HEAVY_FORMATS or len(files) < MIN_FILES_FOR_POOL or processes < 2:
        parse = parser_for(format_name)
        return [parse(source, file, content) for file, content in files]
    measure, to_parsed = HEAVY_FORMATS[format_name]
    # fork: workers start at once with everything imported (spawn would re-run __main__)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        rows = pool.map(
            measure,
            [source] * len(files),
            [file for file, _ in files],
            [content for _, content in files],
            chunksize=max(1, len(files) // (processes * 4)),
        )
        return [to_parsed([row]) for row in rows]
