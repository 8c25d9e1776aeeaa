"""Retention and rollback of published snapshots.

Both take the warehouse lock, so neither can interleave with a run. Rollback is one atomic
`current` switch; retention deletes only whole snapshots older than the newest N, never the one
`current` points to and never anything under `raw/`.
"""

from __future__ import annotations

from pathlib import Path

from flows.errors import TollError
from flows.warehouse.layout import Warehouse
from flows.warehouse.lock import warehouse_lock
from flows.warehouse.snapshots import (
    current_snapshot,
    delete_snapshot,
    list_snapshots,
    point_current,
    previous,
    resolve,
)


def rollback(warehouse: Warehouse, snapshot: str | None = None) -> Path:
    """Make `snapshot` (default: the one published before the current one) current."""
    with warehouse_lock(warehouse):
        if snapshot is None:
            snapshot = previous(warehouse)
            if snapshot is None:
                raise TollError(f"no snapshot older than the current one in {warehouse}")
        target = resolve(warehouse, snapshot)
        point_current(warehouse, target)
        return target


def prune(warehouse: Warehouse, keep: int) -> list[str]:
    """Delete snapshots beyond the newest `keep`; the current one always stays. Needs the lock."""
    if keep < 1:
        raise TollError(f"keep_snapshots: expected at least 1, got {keep}")
    known = [meta["snapshot"] for meta in list_snapshots(warehouse)]
    current = current_snapshot(warehouse)
    doomed = [s for s in known[:-keep] if current is None or s != current.name]
    for name in doomed:
        delete_snapshot(warehouse, name)
    return doomed
