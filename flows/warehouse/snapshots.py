"""Published snapshots in the warehouse: list them, resolve an id, find current and previous.

The one resolver every command uses: a snapshot id is a UTC stamp of a snapshot that exists;
anything else (`..`, a path, a typo) is a clear error listing the latest ids.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from flows.errors import TollError
from flows.pipeline.crash_points import crash_point
from flows.warehouse.layout import CURRENT, PIN, SNAPSHOTS, Warehouse, as_warehouse
from flows.warehouse.storage import LocalStorage, write_temporary

METADATA = "_snapshot.json"
# Snapshot ids are UTC stamps such as 20261125T103000123456Z: anything else is not one of ours.
SNAPSHOT_ID = re.compile(r"^\d{8}T\d{6}\d{0,6}Z$")
STAMP = re.compile(r"\d{8}T\d{6}\d{0,6}Z")


class IncompleteSnapshot(TollError):
    """A snapshot whose manifest names objects that are not there: it must not become current."""


class NoSnapshot(TollError):
    """No published snapshot (or not the one asked for)."""


def list_snapshots(warehouse: Warehouse | Path) -> list[dict]:
    """Metadata of every published snapshot, oldest first."""
    warehouse = as_warehouse(warehouse)
    if not isinstance(warehouse.storage, LocalStorage):
        found = []
        for name, keys in _prefixes(warehouse).items():
            key = f"{SNAPSHOTS}/{name}/{METADATA}"
            if SNAPSHOT_ID.match(name) and key in keys:
                try:
                    found.append(json.loads(warehouse.storage.read_bytes(key)))
                except FileNotFoundError:
                    # listed, then deleted by a run that lost the pointer race (its upload
                    # goes, manifest first): it was never published (found by the two-host
                    # race in tests/e2e/test_several_hosts.py)
                    continue
        return found
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


def local_copy(warehouse: Warehouse | Path, snapshot_id: str) -> Path:
    """A local folder holding snapshot `snapshot_id`: the folder itself on a local warehouse, on
    object storage this host's mirror, fetched once (a published snapshot never changes).

    The manifest is fetched last, so a mirror holding it is whole; an interrupted copy is
    completed by the next call."""
    warehouse = as_warehouse(warehouse)
    folder = warehouse.snapshot_folder(snapshot_id)
    storage = warehouse.storage
    if isinstance(storage, LocalStorage) or (folder / METADATA).exists():
        return folder
    prefix = f"{SNAPSHOTS}/{snapshot_id}"
    for key in storage.list(prefix):
        if not key.endswith(f"/{METADATA}"):
            local_object(warehouse, key)
    local_object(warehouse, f"{prefix}/{METADATA}")
    return folder


def local_object(warehouse: Warehouse, key: str) -> Path:
    """The local path of published object `key`, fetched into this host's mirror first when the
    warehouse is on object storage (a missing object stays missing: no file is made)."""
    target = warehouse.path(key)
    if isinstance(warehouse.storage, LocalStorage) or target.exists():
        return target
    try:
        data = warehouse.storage.read_bytes(key)
    except FileNotFoundError:
        return target
    write_temporary(target, data).replace(target)
    return target


def previous(warehouse: Warehouse | Path, before: str | None = None) -> str | None:
    """The id of the snapshot published before `before` (default: before the current one)."""
    warehouse = as_warehouse(warehouse)
    if before is None:
        current = current_snapshot(warehouse)
        before = current.name if current else None
    known = [meta["snapshot"] for meta in list_snapshots(warehouse)]
    older = [s for s in known if before is None or s < before]
    return older[-1] if older else None


def read_pin(warehouse: Warehouse | Path) -> dict | None:
    """The pin a `toll rollback` set ({snapshot, pinned_at}), or None."""
    warehouse = as_warehouse(warehouse)
    try:
        return json.loads(warehouse.storage.read_bytes(PIN))
    except FileNotFoundError:
        return None
    except ValueError:
        raise TollError(
            f"warehouse {warehouse}: {PIN} is not valid JSON; remove it to release the pin"
        ) from None


def set_pin(warehouse: Warehouse, snapshot_id: str | None) -> None:
    """Pin `current` at `snapshot_id` (None releases the pin)."""
    if snapshot_id is None:
        warehouse.storage.delete(PIN)
        return
    pin = {"snapshot": snapshot_id, "pinned_at": datetime.now(UTC).isoformat()}
    warehouse.storage.write_bytes(PIN, json.dumps(pin).encode())


def start_snapshot(warehouse: Warehouse) -> tuple[Path, str]:
    """A new snapshot's private folder (a temporary name `recovery.sweep` removes if the run
    dies) and its id; `finish_snapshot` renames it into place whole."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging = warehouse.snapshots_folder() / f".tmp-{stamp}"
    staging.mkdir(parents=True)
    return staging, stamp


def finish_snapshot(warehouse: Warehouse, staging: Path, stamp: str) -> Path:
    """Rename a filled `start_snapshot` folder into place. It is not current yet
    (`point_current`); the caller removes `staging` if this fails."""
    crash_point("publish")
    final = warehouse.snapshots_folder() / stamp
    staging.rename(final)
    return final


def point_current(warehouse: Warehouse, snapshot: Path | str) -> None:
    """Switch `current` to `snapshot` in one step: readers see the old or the new, never none.

    Only a complete snapshot is pointed at; on object storage the swap is conditional on the
    pointer still holding what this run read (`PointerMoved` otherwise)."""
    name = PurePosixPath(snapshot).name
    check_complete(warehouse, name)
    if warehouse.remote is not None:
        # a run's working copy: published on the bucket first; the mirror follows only if the
        # bucket's pointer moved to it
        from flows.warehouse.working_copy import publish_remote

        try:
            publish_remote(warehouse, name)
        except BaseException:
            shutil.rmtree(warehouse.snapshot_folder(name), ignore_errors=True)
            raise
    warehouse.storage.swap_pointer(CURRENT, f"{SNAPSHOTS}/{name}", None)


def listed_keys(warehouse: Warehouse, snapshot_id: str) -> list[str]:
    """The keys a snapshot's manifest names: the manifest and each table's Parquet (plus the
    `files` it lists, when it lists them)."""
    prefix = f"{SNAPSHOTS}/{snapshot_id}"
    try:
        meta = json.loads(warehouse.storage.read_bytes(f"{prefix}/{METADATA}"))
    except FileNotFoundError:
        raise IncompleteSnapshot(
            f"snapshot {snapshot_id} in {warehouse} has no {METADATA}: it was never finished, "
            "so `current` stays where it is"
        ) from None
    files = [f"{name}.parquet" for name in meta.get("tables", {})] + list(meta.get("files", []))
    return [f"{prefix}/{METADATA}", *(f"{prefix}/{f}" for f in files)]


def check_complete(warehouse: Warehouse, snapshot_id: str) -> None:
    """Every object the snapshot lists exists, or `IncompleteSnapshot` naming what is missing."""
    missing = [k for k in listed_keys(warehouse, snapshot_id) if not warehouse.storage.exists(k)]
    if missing:
        raise IncompleteSnapshot(
            f"snapshot {snapshot_id} in {warehouse} lists objects that are not there: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}; `current` stays "
            "where it is"
        )


def _prefixes(warehouse: Warehouse) -> dict[str, set[str]]:
    """Every key under snapshots/, grouped by the snapshot (or unfinished) prefix it is in."""
    grouped: dict[str, set[str]] = {}
    for key in warehouse.storage.list(SNAPSHOTS):
        name = key.split("/")[1]
        grouped.setdefault(name, set()).add(key)
    return grouped


def sweep_unfinished(
    warehouse: Warehouse, longest_run: timedelta, now: datetime | None = None
) -> list[str]:
    """Delete snapshot prefixes that were never finished (no manifest, or a local staging
    folder) and were started longer than `longest_run` ago: no live run can still be writing
    them. The snapshot `current` names and every finished snapshot stay. Returns the names."""
    now = now or datetime.now(UTC)
    pointer = warehouse.storage.read_pointer(CURRENT)
    named = pointer[0] if pointer else None
    swept = []
    for name, keys in sorted(_prefixes(warehouse).items()):
        finished = SNAPSHOT_ID.match(name) and f"{SNAPSHOTS}/{name}/{METADATA}" in keys
        stamp = STAMP.search(name)
        if finished or name == named or stamp is None:
            continue  # not ours to judge: only prefixes with a start stamp are swept
        started = datetime.strptime(stamp.group()[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        if now - started > longest_run:
            warehouse.storage.delete(f"{SNAPSHOTS}/{name}")
            swept.append(name)
    return swept


def delete_snapshot(warehouse: Warehouse, snapshot_id: str) -> None:
    pointer = warehouse.storage.read_pointer(CURRENT)
    if pointer and pointer[0] == snapshot_id:
        # read again right before deleting: a rollback elsewhere may have moved it here
        raise TollError(f"snapshot {snapshot_id} is current in {warehouse}: it is never deleted")
    if not isinstance(warehouse.storage, LocalStorage):
        resolve(warehouse, snapshot_id)  # a clear error for an unknown id
        # the manifest first: a half-deleted snapshot is then an unfinished prefix, not a
        # snapshot anyone can resolve, and the sweeper finishes the job
        warehouse.storage.delete(f"{SNAPSHOTS}/{snapshot_id}/{METADATA}")
        warehouse.storage.delete(f"{SNAPSHOTS}/{snapshot_id}")
        return
    folder = resolve(warehouse, snapshot_id)
    # Rename first: a reader sees either the whole snapshot or none, never half of one.
    trash = folder.with_name(f".tmp-deleting-{snapshot_id}")
    folder.rename(trash)
    shutil.rmtree(trash)
