"""Published snapshots in the warehouse: list them, resolve an id, find current and previous.

The one resolver every command uses: a snapshot id is a UTC stamp of a snapshot that exists;
anything else (`..`, a path, a typo) is a clear error listing the latest ids.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flows.errors import TollError
from flows.pipeline.crash_points import crash_point
from flows.warehouse.layout import CURRENT, SNAPSHOTS, Warehouse, as_warehouse

METADATA = "_snapshot.json"
# Snapshot ids are UTC stamps such as 20261125T103000123456Z: anything else is not one of ours.
SNAPSHOT_ID = re.compile(r"^\d{8}T\d{6}\d{0,6}Z$")


class NoSnapshot(TollError):
    """No published snapshot (or not the one asked for)."""


def list_snapshots(warehouse: Warehouse | Path) -> list[dict]:
    """Metadata of every published snapshot, oldest first."""
    warehouse = as_warehouse(warehouse)
    root = warehouse.snapshots_folder()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        meta_path = folder / METADATA
        if meta_path.exists():
            found.append(json.loads(meta_path.read_text()))
    return found


def current_snapshot(warehouse: Warehouse | Path) -> Path | None:
    warehouse = as_warehouse(warehouse)
    pointer = warehouse.storage.read_pointer(CURRENT)
    return warehouse.snapshot_folder(pointer[0]) if pointer else None


def require_current(warehouse: Warehouse | Path) -> Path:
    warehouse = as_warehouse(warehouse)
    current = current_snapshot(warehouse)
    if current is None:
        where = warehouse if warehouse.exists() else f"{warehouse} (no such folder)"
        raise NoSnapshot(f"no published snapshot in {where}: run `toll run` first")
    return current


def resolve(warehouse: Warehouse | Path, snapshot: str | None = None) -> Path:
    """The folder of snapshot `snapshot` (default: the current one); anything else is an error."""
    warehouse = as_warehouse(warehouse)
    if snapshot is None:
        return require_current(warehouse)
    known = [meta["snapshot"] for meta in list_snapshots(warehouse)]
    if not SNAPSHOT_ID.match(snapshot) or snapshot not in known:
        listed = ", ".join(known[-5:]) or "none published yet"
        raise NoSnapshot(
            f"no published snapshot {snapshot!r} in {warehouse} "
            f"(latest: {listed}; `toll snapshots` lists them all)"
        )
    return warehouse.snapshot_folder(snapshot)


def previous(warehouse: Warehouse | Path, before: str | None = None) -> str | None:
    """The id of the snapshot published before `before` (default: before the current one)."""
    warehouse = as_warehouse(warehouse)
    if before is None:
        current = current_snapshot(warehouse)
        before = current.name if current else None
    known = [meta["snapshot"] for meta in list_snapshots(warehouse)]
    older = [s for s in known if before is None or s < before]
    return older[-1] if older else None


def write_snapshot(warehouse: Warehouse, fill: Callable[[Path, str], None]) -> Path:
    """A new snapshot: `fill(folder, id)` writes it under a temporary name, then it is renamed
    into place whole. It is not current yet (`point_current`)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    root = warehouse.snapshots_folder()
    staging = root / f".tmp-{stamp}"
    final = root / stamp
    staging.mkdir(parents=True)
    try:
        fill(staging, stamp)
        crash_point("publish")
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def point_current(warehouse: Warehouse, snapshot: Path) -> None:
    """Switch `current` to `snapshot` in one step: readers see the old or the new, never none."""
    warehouse.storage.swap_pointer(CURRENT, f"{SNAPSHOTS}/{snapshot.name}", None)


def delete_snapshot(warehouse: Warehouse, snapshot_id: str) -> None:
    folder = resolve(warehouse, snapshot_id)
    # Rename first: a reader sees either the whole snapshot or none, never half of one.
    trash = folder.with_name(f".tmp-deleting-{snapshot_id}")
    folder.rename(trash)
    shutil.rmtree(trash)
