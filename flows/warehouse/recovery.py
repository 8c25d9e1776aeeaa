"""Clear what a killed run left behind, before the next run writes anything.

A run writes every file under a temporary name and renames it into place, so a crash can only
leave temporary names behind: a half-written snapshot folder, a work database, a fetch's raw
folder, a file or symlink not yet renamed. None of them is ever read as published data; this
removes them. Raw files that were renamed into place stay, even without a manifest entry: raw
inputs are never deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flows.warehouse.layout import Warehouse, as_warehouse
from flows.warehouse.lock import WarehouseBusy, warehouse_lock

# write_atomic's sibling names: `.<file>.tmp-<pid>` (`current`, the pin, caches, quarantine
# parts, Data Docs and reports) and a fetch's raw folder, `.<fetched_at>.tmp-<pid>`
TEMPORARY = ".*.tmp-*"


def leftovers(warehouse: Warehouse | Path) -> list[Path]:
    """Temporary paths a killed run left in the warehouse (empty after a clean run)."""
    warehouse = as_warehouse(warehouse)
    root = warehouse.path(".")
    found: list[Path] = []
    found += sorted(warehouse.snapshots_folder().glob(".tmp-*"))
    found += sorted(warehouse.work_folder().glob("build-*"))
    found += sorted(root.glob(TEMPORARY))
    for folder in (
        warehouse.path(warehouse.raw_key()),
        warehouse.cache_path(),
        warehouse.quarantine_folder(),
        warehouse.docs_root(),
        warehouse.path("reports"),
    ):
        found += sorted(folder.rglob(TEMPORARY))
    return found


def sweep(warehouse: Warehouse | Path) -> list[Path]:
    """Remove the leftovers; call it only while holding the warehouse lock."""
    removed = leftovers(warehouse)
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


def sweep_if_idle(warehouse: Warehouse | Path) -> list[Path]:
    """Remove what killed runs left, for a run that writes nothing else (its snapshot stands).

    Only when there is something to remove is the lock taken (a read-only warehouse with nothing
    left over still answers); a live run holding it sweeps at its own start, so then nothing is
    done here."""
    warehouse = as_warehouse(warehouse)
    if not leftovers(warehouse):
        return []
    try:
        with warehouse_lock(warehouse):
            return sweep(warehouse)
    except WarehouseBusy:
        return []
