"""Published snapshots: roll back to an earlier one, keep only the last N.

Both take the warehouse lock, so neither can interleave with a run. Rollback is one atomic
`current` symlink swap; retention deletes only whole snapshot folders older than the newest N,
never the one `current` points to and never anything under `raw/`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from flows.errors import TollError
from flows.publish import SNAPSHOTS, current_snapshot, list_snapshots, point_current, warehouse_lock

# Snapshot ids are UTC stamps such as 20261125T103000123456Z: anything else is not one of ours.
SNAPSHOT_ID = re.compile(r"^\d{8}T\d{6}\d{0,6}Z$")


def snapshot_path(warehouse: Path, snapshot: str) -> Path:
    """The folder of a published snapshot; a name that is not one (e.g. `../x`) is an error."""
    known = [meta["snapshot"] for meta in list_snapshots(warehouse)]
    if not SNAPSHOT_ID.match(snapshot) or snapshot not in known:
        listed = ", ".join(known[-5:]) or "none published yet"
        raise TollError(
            f"no published snapshot {snapshot!r} in {warehouse / SNAPSHOTS} "
            f"(latest: {listed}; `toll snapshots` lists them all)"
        )
    return warehouse / SNAPSHOTS / snapshot


def rollback(warehouse: Path, snapshot: str | None = None) -> Path:
    """Make `snapshot` (default: the one published before the current one) current."""
    with warehouse_lock(warehouse):
        if snapshot is None:
            snapshot = _previous(warehouse)
        target = snapshot_path(warehouse, snapshot)
        point_current(warehouse, target)
        return target


def _previous(warehouse: Path) -> str:
    known = [meta["snapshot"] for meta in list_snapshots(warehouse)]
    current = current_snapshot(warehouse)
    older = [s for s in known if current is None or s < current.name]
    if not older:
        raise TollError(f"no snapshot older than the current one in {warehouse / SNAPSHOTS}")
    return older[-1]


def prune(warehouse: Path, keep: int) -> list[str]:
    """Delete snapshots beyond the newest `keep`; the current one always stays. Needs the lock."""
    if keep < 1:
        raise ValueError(f"keep_snapshots: expected at least 1, got {keep}")
    known = [meta["snapshot"] for meta in list_snapshots(warehouse)]
    current = current_snapshot(warehouse)
    doomed = [s for s in known[:-keep] if current is None or s != current.name]
    for name in doomed:
        folder = snapshot_path(warehouse, name)
        # Rename first: a reader sees either the whole snapshot or none, never half of one.
        trash = folder.with_name(f".tmp-deleting-{name}")
        folder.rename(trash)
        shutil.rmtree(trash)
    return doomed
