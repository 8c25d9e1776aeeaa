"""Parse many new files at once: maps in worker processes, tabular files typed together.

Map snapshots are independent and their geometry work is CPU-bound, so a cold run over many
maps uses every core; a nightly with one new map parses it in-process (no pool to start).
Tabular files are read by native readers and typed in one pass per batch (Mediazona's
vintages), in-process: spawned workers cost more to start than such parsing takes.

Two costs that are not the maps' own are kept out. Python's cyclic garbage collector would walk
every object of the (large) flow process again and again while a map's JSON is turned into
objects: it is paused during parsing (a parsed map holds no reference cycles), and workers
freeze the objects they inherit. The file contents reach the workers through the fork itself,
not pickled through a pipe: each task carries only an index.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar

from flows.s2_ingest.formats import parser_for
from flows.s2_ingest.parsers import deepstate, mediazona
from flows.s2_ingest.parsing import Parsed

# Heavy formats: a function measuring one file as a plain dict (run in the workers) and one
# turning those dicts into parsed rows (run here). Workers are forked: they must not touch
# Polars, whose thread pool does not survive a fork.
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
# Maps per task: small, so that both workers finish together (a task carries only indices).
CHUNK = 4

# What the forked workers read: (measure, source, [(file, content), ...]), set before the fork.
_WORK: tuple[Callable, str, list[tuple[str, bytes]]] | None = None
# Called once a pool's workers are forked: this parse forks no more (`fetch_sources` starts the
# other sources' threads then).
WORKERS_FORKED: ContextVar[Callable[[], object] | None] = ContextVar("workers_forked", default=None)


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
    global _WORK
    measure, to_parsed = HEAVY_FORMATS[format_name]
    _WORK = (measure, source, files)
    # fork: workers start at once with everything imported (spawn would re-run __main__)
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(
            max_workers=processes, mp_context=context, initializer=gc.freeze
        ) as pool:
            measured = pool.map(_measure, range(len(files)), chunksize=CHUNK)
            # a forking pool starts every worker at its first task: all exist by now
            if (forked := WORKERS_FORKED.get()) is not None:
                forked()
            rows = list(measured)
    finally:
        _WORK = None
    return [to_parsed([row]) for row in rows]


def _measure(index: int) -> dict:
    measure, source, files = _WORK
    file, content = files[index]
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
