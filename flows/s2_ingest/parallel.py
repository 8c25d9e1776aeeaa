"""Parse many new files at once: maps in worker processes, tabular files typed together.

Map snapshots are independent and their geometry work is CPU-bound, so a cold run over many
maps uses every core; a nightly with one new map parses it in-process (no pool to start).
Tabular files are read by native readers and typed in one pass per batch (Mediazona's
vintages), in-process: spawned workers cost more to start than such parsing takes.

The workers are fresh interpreters (`python -m flows.s2_ingest.parallel`), each given its share of
the maps through a pipe, not forks of the run. A forked worker held the run's pages: 354 MB each
at 100x, counted once per process in the tree's memory (2.55-2.62 GiB peak against the 2.5 GiB
target, two runs; 2.10 GiB after). Nothing is forked from the run, whose threads (Prefect's, the
other sources') may hold a lock a forked child would wait on forever, so every source is fetched
at once. Not `multiprocessing`'s spawn or forkserver: their workers run the parent's main script
again (`python script.py` calling `nightly()` without a `__main__` guard started a second run in
each worker), and import the `toll` command's own modules. Python's cyclic garbage collector is
paused while a map's JSON is turned into objects (a parsed map holds no reference cycles).
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from flows.errors import TollError
from flows.s2_ingest.formats import parser_for
from flows.s2_ingest.parsers import deepstate, mediazona
from flows.s2_ingest.parsing import Parsed

# Heavy formats: a function measuring one file as a plain dict (run in the workers) and one
# turning those dicts into parsed rows (run here).
HEAVY_FORMATS: dict[str, tuple[Callable[[str, str, bytes], dict], Callable]] = {
    "deepstate_geojson": (deepstate.measure_snapshot, deepstate.to_parsed),
}
# Formats whose many files are parsed together: one typing pass instead of one per file.
BATCH_FORMATS: dict[str, Callable[[str, list[tuple[str, bytes]]], list[Parsed]]] = {
    "mediazona_cumsum": mediazona.parse_cumsum_files,
}
BATCH_FILES = 1_000  # files typed together (100x: 1,000 vintages ≈ 1.4M rows)
# Below this many files the workers cost more to start than they save.
MIN_FILES_FOR_POOL = 4


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
    _, to_parsed = HEAVY_FORMATS[format_name]
    # every n-th file to each worker: the maps come in date order, so each gets a like share
    shares = [list(range(i, len(files), processes)) for i in range(processes)]

    def measured(share: list[int]) -> tuple[list[dict], int | None, BaseException | None]:
        return _in_worker(format_name, source, [files[i] for i in share])

    with ThreadPoolExecutor(max_workers=processes, thread_name_prefix="toll-maps") as talk:
        answers = list(talk.map(measured, shares))
    # the error of the first failing file in the given order, as if parsed one by one
    failures = [
        (share[at], error)
        for share, (_, at, error) in zip(shares, answers, strict=True)
        if error is not None
    ]
    if failures:
        raise min(failures, key=lambda failure: failure[0])[1]
    rows: list[dict] = [{}] * len(files)
    for share, (found, _, _) in zip(shares, answers, strict=True):
        for index, row in zip(share, found, strict=True):
            rows[index] = row
    return [to_parsed([row]) for row in rows]


def _in_worker(
    format_name: str, source: str, files: list[tuple[str, bytes]]
) -> tuple[list[dict], int | None, BaseException | None]:
    """`_worker`'s answer for `files`: the rows measured, and the position and error of the
    file that stopped it, if one did."""
    child = subprocess.run(
        [sys.executable, "-m", __name__, format_name, source],
        input=pickle.dumps(files, protocol=pickle.HIGHEST_PROTOCOL),
        capture_output=True,
        check=False,
    )
    if child.returncode != 0:
        detail = child.stderr.decode(errors="replace").strip()[-500:]
        raise TollError(
            f"source '{source}': a map parser process exited {child.returncode}: {detail}"
        )
    return pickle.loads(child.stdout)


def _worker(format_name: str, source: str) -> None:
    """Measure the (file, content) pairs pickled on stdin, in turn until one fails; pickle the
    rows, and that file's position and error (sent whole: the run raises it as its own)."""
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the answer
    measure, _ = HEAVY_FORMATS[format_name]
    files = pickle.loads(sys.stdin.buffer.read())
    rows: list[dict] = []
    failed: tuple[int | None, BaseException | None] = (None, None)
    with gc_paused():
        for position, (file, content) in enumerate(files):
            try:
                rows.append(measure(source, file, content))
            except Exception as exc:  # noqa: BLE001 - raised by the run (`parse_many`)
                failed = (position, exc)
                break
    answer.write(pickle.dumps((rows, *failed), protocol=pickle.HIGHEST_PROTOCOL))
    answer.close()


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


if __name__ == "__main__":
    _worker(*sys.argv[1:3])
