"""Retention and rollback of published snapshots.

Both take the warehouse lock, so neither can interleave with a run. Rollback is one atomic
`current` switch; retention deletes only whole snapshots older than the newest N, never the one
`current` points to and never anything under `raw/`.
"""

from __future__ import annotations

from pathlib import Path

from flows.errors import TollError
from flows.warehouse.layout import Warehouse, as_warehouse
from flows.warehouse.lock import warehouse_lock
from flows.warehouse.snapshots import (
    current_snapshot,
    delete_snapshot,
    list_snapshots,
    point_current,
    previous,
    read_pin,
    resolve,
    set_pin,
)


def rollback(warehouse: Warehouse | Path, snapshot: str | None = None, pin: bool = True) -> Path:
    """Make `snapshot` (default: the one published before the current one) current, and pin it
    there: nightly runs and backfills leave it current until `release`."""
    warehouse = as_warehouse(warehouse)
    with warehouse_lock(warehouse):
        # read the pointer first: on object storage the swap is conditional on what was read
        # here, so a run that published meanwhile makes this rollback fail, not vanish
        current_snapshot(warehouse)
        if snapshot is None:
            snapshot = previous(warehouse)
            if snapshot is None:
                raise TollError(f"no snapshot older than the current one in {warehouse}")
        target = resolve(warehouse, snapshot)
        point_current(warehouse, target)
        set_pin(warehouse, target.name if pin else None)
        return target


def release(warehouse: Warehouse | Path) -> dict | None:
    """Release a rollback's pin; returns the pin released (None when there was none)."""
    warehouse = as_warehouse(warehouse)
    with warehouse_lock(warehouse):
        pin = read_pin(warehouse)
        set_pin(warehouse, None)
        return pin


class Pinned(TollError):
    """`current` is pinned by a rollback: a run must not move it."""


def refuse_if_pinned(warehouse: Warehouse) -> None:
    pin = read_pin(warehouse)
    if pin is not None:
        raise Pinned(
            f"current is pinned to snapshot {pin['snapshot']} by `toll rollback` "
            f"({pin['pinned_at']}); nothing was fetched or published. Release it with "
            "`toll rollback --release` to let runs publish again"
        )


def prune(warehouse: Warehouse, keep: int) -> list[str]:
    """Delete snapshots beyond the newest `keep`; the current one always stays. Needs the lock."""
    if keep < 1:
        raise TollError(f"keep_snapshots: expected at least 1, got {keep}")
    known = [meta["snapshot"] for meta in list_snapshots(warehouse)]
    current = current_snapshot(warehouse)
    doomed = [s for s in known[:-keep] if current is None or s != current.name]
    for name in doomed:
        delete_snapshot(warehouse, name)
    if warehouse.remote is not None:
        # a run's working copy: the bucket keeps its own newest `keep` (never what its pointer
        # names); the mirror above is only this host's copies
        doomed = sorted({*doomed, *prune(Warehouse(warehouse.remote), keep)})
    return doomed
