"""Parse many new files at once: maps in worker processes, tabular files typed together.

Map snapshots are independent and their geometry work is CPU-bound, so a cold run over many
maps uses every core; a nightly with one new map parses it in-process (no pool to start).
Tabular files are read by native readers and typed in one pass per batch (Mediazona's
vintages), in-process: spawned workers cost more to start than such parsing takes.

The workers come from a fork server (`multiprocessing`'s "forkserver"): a fresh process that
imports this module once and forks them, not forks of the run. A forked worker held the run's
pages: 354 MB each at 100x, counted once per process in the tree's memory (2.55-2.62 GiB peak
against the 2.5 GiB target, two runs); from the fork server each holds its own. And nothing is
forked from the run, whose threads (Prefect's, the other sources') may hold a lock a forked child
would wait on forever: every source is fetched at once. Python's cyclic garbage collector is
paused while a map's JSON is turned into objects (a parsed map holds no reference cycles).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from flows.s2_ingest.formats import parser_for
from flows.s2_ingest.parsers import deepstate, mediazona
from flows.s2_ingest.parsing import Parsed

# Heavy formats: a function measuring one file as a plain dict (run in the workers) and one
# turning those dicts into parsed rows (run here). The fork server imports Polars but must not
# use it: its thread pool does not survive a fork.
HEAVY_FORMATS: dict[str, tuple[Callable[[str, str, bytes], dict], Callable]] = {
    "deepstate_geojson": (deepstate.measure_snapshot, deepstate.to_parsed),
}
# Formats whose many files are parsed together: one typing pass instead of one per file.
BATCH_FORMATS: dict[str, Callable[[str, list[tuple[str, bytes]]], list[Parsed]]] = {
    "mediazona_cumsum": mediazona.parse_cumsum_files,
}
BATCH_FILES = 1_000  # files typed together (100x: 1,000 vintages ≈ 1.4M rows)
# Below this many files a pool costs more to start than it saves.
MIN_FILES_FOR_POOL = 4
# Maps per task: small, so that both workers finish together.
CHUNK = 4

# The fork server imports this module (and so the parsers) before forking the first worker.
_WORKERS = multiprocessing.get_context("forkserver")
_WORKERS.set_forkserver_preload([__name__])


def workers() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (reference counting still frees)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_many(
    format_name: str, source: str, files: list[tuple[str, bytes]], max_workers: int | None = None
) -> list[Parsed]:
    """Parsed rows of each (file, content), in the order given."""
    processes = min(max_workers or workers(), len(files))
    if format_name not in HEAVY_FORMATS or processes < 2 or len(files) < MIN_FILES_FOR_POOL:
        return _parse_chunk((format_name, source, files))
    measure, to_parsed = HEAVY_FORMATS[format_name]
    work = [(measure, source, file, content) for file, content in files]
    with ProcessPoolExecutor(
        max_workers=processes, mp_context=_WORKERS, initializer=gc.freeze
    ) as pool:
        rows = list(pool.map(_measure, work, chunksize=CHUNK))
    return [to_parsed([row]) for row in rows]


def _measure(work: tuple[Callable, str, str, bytes]) -> dict:
    measure, source, file, content = work
    with gc_paused():
        return measure(source, file, content)


def _parse_chunk(work: tuple[str, str, list[tuple[str, bytes]]]) -> list[Parsed]:
    format_name, source, files = work
    parse = parser_for(format_name)
    with gc_paused():
        if format_name in BATCH_FORMATS:
            together = BATCH_FORMATS[format_name]
            return [
                parsed
                for start in range(0, len(files), BATCH_FILES)
                for parsed in together(source, files[start : start + BATCH_FILES])
            ]
        return [parse(source, file, content) for file, content in files]
