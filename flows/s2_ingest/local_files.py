"""Local copies (file:// URLs) known to be unchanged from their stat alone, without reading them.

A run on local copies would otherwise read, decompress and hash every declared file again (with
daily maps, thousands of them) only to find each already stored. As make and rsync do, a file
whose size and modification time (ns) equal those recorded when it was last read is taken to
hold the same bytes. A stat taken less than RECENT_NS after the file's modification is not
recorded: a second write within the same clock tick could keep both (git's "racy" rule).

The record is a cache, not raw data: `cache/local_stat/<source>.json` in the warehouse, rewritten
after a successful ingest; deleting it only makes the next run read every file again.
"""

from __future__ import annotations

import json
import time

from flows.s2_ingest.fetch import local_path
from flows.warehouse.layout import Warehouse
from flows.warehouse.storage import write_atomic

RECENT_NS = 2_000_000_000


def local_stat(url: str) -> list[int] | None:
    """[size, mtime_ns] of a local copy old enough to be trusted; None for other URLs."""
    path = local_path(url)
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None  # the fetch reports it
    if time.time_ns() - stat.st_mtime_ns < RECENT_NS:
        return None
    return [stat.st_size, stat.st_mtime_ns]


class LocalStats:
    """The sha256 of each local copy read before, valid while its [size, mtime_ns] stays."""

    def __init__(self, warehouse: Warehouse, source: str) -> None:
        self.path = warehouse.cache_path("local_stat", f"{source}.json")
        try:
            self.known: dict[str, list] = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            self.known = {}  # no cache (or a broken one): files are read
        self.seen: dict[str, list] = {}

    def sha256(self, url: str, stat: list[int] | None) -> str | None:
        """The content's sha256 if the file is the one read before, unchanged; else None."""
        record = self.known.get(url)
        if stat is None or not isinstance(record, list) or record[:2] != stat:
            return None
        self.seen[url] = record
        return record[2]

    def remember(self, url: str, stat: list[int] | None, sha256: str) -> None:
        if stat is not None:
            self.seen[url] = [*stat, sha256]

    def save(self) -> None:
        """Keep the files of this run only (a file no longer declared drops out)."""
        if self.seen != self.known:
            write_atomic(self.path, json.dumps(self.seen, sort_keys=True).encode())
