"""Parse many new files at once: in worker processes when the format is heavy and files many.

Map snapshots are independent and their geometry work is CPU-bound, so a cold run over many
maps uses every core; a nightly with one new map parses it in-process (no pool to start).

Two costs that are not the maps' own are kept out. Python's cyclic garbage collector would walk
every object of the (large) flow process again and again while a map's JSON is turned into
objects: it is paused during parsing (a parsed map holds no reference cycles), and workers
freeze the objects they inherit. The file contents reach the workers through the fork itself,
not pickled through a pipe: each task carries only an index.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from flows.s2_ingest.formats import parser_for
from flows.s2_ingest.parsers import deepstate
from flows.s2_ingest.parsing import Parsed

# Heavy formats: a function measuring one file as a plain dict (run in the workers) and one
# turning those dicts into parsed rows (run here). Workers are forked: they must not touch
# Polars, whose thread pool does not survive a fork.
HEAVY_FORMATS: dict[str, tuple[Callable[[str, str, bytes], dict], Callable]] = {
    "deepstate_geojson": (deepstate.measure_snapshot, deepstate.to_parsed),
}
# Below this many files a pool costs more to start than it saves.
MIN_FILES_FOR_POOL = 4
# Tabular files need spawned workers (Polars): ≈ 1 s to start them, worth it for many files
# (100x: 5,000 Mediazona vintages, 25 s parsed in one process).
MIN_TABULAR_FILES_FOR_POOL = 200
TABULAR_CHUNK = 50
# Maps per task: small, so that both workers finish together (a task carries only indices).
CHUNK = 4

# What the forked workers read: (measure, source, [(file, content), ...]), set before the fork.
_WORK: tuple[Callable, str, list[tuple[str, bytes]]] | None = None


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
    heavy = format_name in HEAVY_FORMATS
    if processes < 2 or len(files) < (MIN_FILES_FOR_POOL if heavy else MIN_TABULAR_FILES_FOR_POOL):
        return _parse_chunk((format_name, source, files))
    if not heavy:
        return _parse_in_spawned_workers(format_name, source, files, processes)
    global _WORK
    measure, to_parsed = HEAVY_FORMATS[format_name]
    _WORK = (measure, source, files)
    # fork: workers start at once with everything imported (spawn would re-run __main__)
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(
            max_workers=processes, mp_context=context, initializer=gc.freeze
        ) as pool:
            rows = list(pool.map(_measure, range(len(files)), chunksize=CHUNK))
    finally:
        _WORK = None
    return [to_parsed([row]) for row in rows]


def _measure(index: int) -> dict:
    measure, source, files = _WORK
    file, content = files[index]
    with gc_paused():
        return measure(source, file, content)


def _parse_in_spawned_workers(
    format_name: str, source: str, files: list[tuple[str, bytes]], processes: int
) -> list[Parsed]:
    # spawned, not forked: Polars' thread pool does not survive a fork; contents and parsed
    # frames travel pickled (small beside the parsing)
    parser_for(format_name)  # an unknown format is a ConfigError here, not in a worker
    chunks = [files[i : i + TABULAR_CHUNK] for i in range(0, len(files), TABULAR_CHUNK)]
    work = [(format_name, source, chunk) for chunk in chunks]
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            return [item for chunk in pool.map(_parse_chunk, work) for item in chunk]
    except BrokenProcessPool:
        # a spawned worker re-imports the main script: one without an `if __name__ ==
        # "__main__"` guard cannot start workers (toll's CLI, Prefect and bench all have it)
        logging.getLogger(__name__).warning(
            "%s: parsing %d files in one process (worker processes could not start)",
            source,
            len(files),
        )
        return [item for chunk in work for item in _parse_chunk(chunk)]


def _parse_chunk(work: tuple[str, str, list[tuple[str, bytes]]]) -> list[Parsed]:
    format_name, source, files = work
    parse = parser_for(format_name)
    with gc_paused():
        return [parse(source, file, content) for file, content in files]
