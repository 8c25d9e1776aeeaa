"""A run on object storage: pulled into this host's work folder, built there, pushed back.

DuckDB 2.0.1 cannot load `httpfs`, and a build reads thousands of raw Parquet files many times:
so a run on `s3://bucket/prefix` works in this host's mirror of the warehouse (the folder
`S3Storage.folder`), a local warehouse like any other, bound to the bucket (`Warehouse.remote`):

- `pull`: the pointer `current.json` is read first (its ETag is what the publish swap expects),
  then the raw manifest entries this host lacks and the content-named objects they name (a
  published object never changes, so what is here already is never fetched again), the pin,
  and the snapshot `current` names.
- `push_raw`: raw files and their parsed Parquet as immutable objects named by their sha256
  (`raw/_objects/<sha256>`, create-only), uploaded once (one listing says which are there), then
  their manifest entries (create-only), each naming the objects it stands for.
- `publish_remote` (called by `point_current`): the snapshot uploaded under its own prefix,
  `_snapshot.json` last, every object it lists checked, then the pointer swapped with `If-Match`.
  A pointer moved meanwhile by another host fails this run with one line; the objects it
  uploaded are deleted, manifest first, so nothing half-published stays.

No lock is taken on the bucket: the conditional swap is what serialises publishing hosts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from flows.pipeline.crash_points import crash_point
from flows.warehouse.layout import CURRENT, MANIFEST, PIN, SNAPSHOTS, Warehouse
from flows.warehouse.raw_store import manifest_items
from flows.warehouse.storage import (
    LocalStorage,
    PointerMoved,
    S3Storage,
    StorageError,
    write_atomic,
)

OBJECTS = "raw/_objects"  # raw files and parsed Parquet, by sha256 of their bytes
OBJECTS_KEY = "objects"  # in a manifest entry on object storage: {warehouse path: sha256}
# Requests in flight at once. The demo's 428 raw objects to moto on loopback (load 10, 2 cores):
# 6.3 s one at a time, 2.1 s on 4 threads, 1.5 s on 8, 1.3 s on 16; botocore pools 10
# connections per client, so more threads than that only queue.
THREADS = 8

T = TypeVar("T")
R = TypeVar("R")


def _each(work: Callable[[T], R], items: Iterable[T]) -> list[R]:
    items = list(items)
    if len(items) < 2:
        return [work(i) for i in items]
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="toll-s3") as pool:
        return list(pool.map(work, items))


def working_copy(warehouse: Warehouse) -> Warehouse:
    """The warehouse a run builds in: `warehouse` itself when local, else this host's mirror of
    the bucket, bound to it (nothing is fetched here: `pull`)."""
    if not isinstance(warehouse.storage, S3Storage):
        return warehouse
    local = Warehouse(LocalStorage(warehouse.storage.folder))
    local.remote = warehouse.storage
    return local


def remote_of(warehouse: Warehouse) -> Warehouse:
    """The warehouse on object storage a working copy is bound to."""
    assert warehouse.remote is not None
    return Warehouse(warehouse.remote)


def object_key(sha256: str) -> str:
    return f"{OBJECTS}/{sha256}"


def pull(local: Warehouse, locked: bool = False) -> str | None:
    """Bring this host's working copy up to the bucket's state; returns the current snapshot id.

    The pointer is read first: a publish later in this run swaps it only if it still holds this
    value (`If-Match` on the ETag read here). `locked`: the caller holds this host's lock on the
    working copy (a run does)."""
    remote = local.remote
    assert remote is not None
    local.ensure()
    pointer = remote.read_pointer(CURRENT)
    try:
        write_atomic(local.path(PIN), remote.read_bytes(PIN))
    except FileNotFoundError:
        local.path(PIN).unlink(missing_ok=True)
    _pull_raw(local, remote)
    drop_unpublished(local, locked)
    if pointer is None:
        local.path(CURRENT).unlink(missing_ok=True)
        return None
    from flows.warehouse.snapshots import local_copy

    local_copy(remote_of(local), pointer[0])
    if (local.storage.read_pointer(CURRENT) or (None,))[0] != pointer[0]:
        local.storage.swap_pointer(CURRENT, pointer[1])
    return pointer[0]


def drop_unpublished(local: Warehouse, locked: bool = False) -> list[str]:
    """Delete snapshots in the working copy that the bucket does not hold (a run killed between
    its local rename and its upload): readers of the working copy, such as `validate`'s search
    for the snapshot before, must see the bucket's snapshots only. Returns their ids.

    Only under this host's lock: a run on this host may be between its rename and its upload.
    Without it (`locked` False) the lock is tried, and nothing is dropped while a run holds it."""
    from flows.warehouse.lock import WarehouseBusy, warehouse_lock

    if not locked:
        try:
            with warehouse_lock(local):
                return drop_unpublished(local, locked=True)
        except WarehouseBusy:
            return []
    from flows.warehouse.snapshots import SNAPSHOT_ID

    remote = local.remote
    assert remote is not None
    root = local.snapshots_folder()
    if not root.is_dir():
        return []
    held = {key.split("/")[1] for key in remote.list(SNAPSHOTS)}
    dropped = [
        p.name for p in sorted(root.iterdir()) if SNAPSHOT_ID.match(p.name) and p.name not in held
    ]
    for name in dropped:
        shutil.rmtree(root / name, ignore_errors=True)
    return dropped


def pull_raw(local: Warehouse) -> None:
    """Only the raw manifest entries and objects this host lacks (the pointer is not read
    again: what a publish swap expects stays what the run read first)."""
    assert local.remote is not None
    _pull_raw(local, local.remote)


def _pull_raw(local: Warehouse, remote: S3Storage) -> None:
    here = local.path(MANIFEST)
    missing = [k for k in remote.list(MANIFEST) if not (here / k.rsplit("/", 1)[1]).exists()]
    if not missing:
        return
    entries = _each(lambda key: (key, remote.read_bytes(key)), missing)
    wanted: dict[str, str] = {}
    for key, data in entries:
        try:
            objects = [item[OBJECTS_KEY] for item in manifest_items(json.loads(data))]
        except (ValueError, KeyError, TypeError):
            raise StorageError(
                f"warehouse {remote.root}: manifest file {key}: expected JSON naming each "
                f"entry's objects under {OBJECTS_KEY!r}"
            ) from None
        for path, sha256 in (pair for named in objects for pair in named.items()):
            if not local.path(path).exists():
                wanted[path] = sha256

    def fetch(item: tuple[str, str]) -> None:
        path, sha256 = item
        data = remote.read_bytes(object_key(sha256))
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(
                f"warehouse {remote.root}: object {object_key(sha256)} does not hash to its "
                "name (a corrupted upload); delete it and run again from the host that made it"
            )
        write_atomic(local.path(path), data, sync=False)

    _each(fetch, sorted(wanted.items()))
    os.sync()  # the objects before the entries naming them, as `store_all` does
    for key, data in entries:
        write_atomic(local.path(key), data, sync=False)
    local.forget_manifest()


def pull_entries(local: Warehouse, source: str) -> int:
    """Copy the bucket's manifest entries of `source` (not the objects they name) into `local`,
    a scratch folder deciding what is stored already (an `ingest-part` run); never a working
    copy, whose entries must name objects it holds. Returns how many."""
    remote = local.remote
    assert remote is not None
    keys = [k for k in remote.list(MANIFEST) if f"-{source}-" in k.rsplit("/", 1)[1]]
    entries = _each(lambda key: (key, remote.read_bytes(key)), keys)
    kept = 0
    for key, data in entries:
        if all(item.get("source") == source for item in manifest_items(json.loads(data))):
            write_atomic(local.path(key), data, sync=False)
            kept += 1
    local.forget_manifest()
    return kept


def push_raw(local: Warehouse) -> int:
    """Upload the raw files and manifest entries the bucket lacks; returns how many entries."""
    remote = local.remote
    assert remote is not None
    there = {k.rsplit("/", 1)[1] for k in remote.list(MANIFEST)}
    folder = local.path(MANIFEST)
    names = sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []
    todo = [n for n in names if n not in there]
    if not todo:
        return 0
    files = {n: json.loads((folder / n).read_bytes()) for n in todo}
    paths = sorted(
        {
            p
            for data in files.values()
            for e in manifest_items(data)
            for p in (e["raw_path"], e["parquet_path"], e["rejected_path"])
            if p
        }
    )
    shas = dict(zip(paths, _each(lambda p: _sha256(local.path(p)), paths), strict=True))
    present = {k.rsplit("/", 1)[1] for k in remote.list(OBJECTS)}  # listed once
    uploads = sorted({(sha, p) for p, sha in shas.items() if sha not in present})
    uploads = list({sha: p for sha, p in uploads}.items())  # one upload per content
    _each(lambda item: remote.create(object_key(item[0]), local.path(item[1]).read_bytes()), uploads)

    def named(e: dict) -> dict:
        paths = (e["raw_path"], e["parquet_path"], e["rejected_path"])
        return {**e, OBJECTS_KEY: {p: shas[p] for p in paths if p}}

    def upload(name: str) -> None:
        data = files[name]
        data = [named(e) for e in data] if isinstance(data, list) else named(data)
        remote.create(f"{MANIFEST}/{name}", json.dumps(data, indent=1).encode())

    _each(upload, todo)
    return sum(len(manifest_items(files[name])) for name in todo)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def publish_remote(local: Warehouse, snapshot_id: str) -> None:
    """Upload the local snapshot `snapshot_id` (manifest last), check it, then swap the bucket's
    pointer to it; a pointer moved since `pull` fails with PointerMoved and deletes the upload."""
    from flows.warehouse.snapshots import METADATA, check_complete

    remote = local.remote
    assert remote is not None
    folder = local.snapshot_folder(snapshot_id)
    prefix = f"{SNAPSHOTS}/{snapshot_id}"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    body = [f for f in files if f != METADATA]
    _each(lambda f: remote.create(f"{prefix}/{f}", (folder / f).read_bytes()), body)
    crash_point("upload")  # not one of POINTS (a local run never reaches it): S3 tests only
    remote.create(f"{prefix}/{METADATA}", (folder / METADATA).read_bytes())
    check_complete(remote_of(local), snapshot_id)
    try:
        remote.swap_pointer(CURRENT, prefix, None)
    except PointerMoved:
        # a finished snapshot nobody pointed at: deleted manifest first, so that a half-deleted
        # one is an unfinished prefix (the sweeper's) and never a snapshot anyone resolves
        remote.delete(f"{prefix}/{METADATA}")
        remote.delete(prefix)
        raise


def push_outputs(local: Warehouse, prefixes: Iterable[str]) -> int:
    """Upload what a run or command wrote under these prefixes (quarantine/<run>, docs/<run>,
    reports/<snapshot>) as objects; returns how many were uploaded."""
    remote = local.remote
    assert remote is not None
    items = []
    for prefix in prefixes:
        base = local.path(prefix)
        if base.is_file():
            items.append(prefix)
        elif base.is_dir():
            items += [
                f"{prefix}/{p.relative_to(base).as_posix()}"
                for p in sorted(base.rglob("*"))
                if p.is_file() and not p.name.startswith(".")
            ]
    _each(lambda key: remote.write_bytes(key, local.path(key).read_bytes()), items)
    return len(items)


def pull_prefix(local: Warehouse, prefix: str) -> list[str]:
    """Fetch the objects under `prefix` (quarantine, docs: written once each) this host lacks;
    files and folders take the time the objects were written (`toll quarantine` orders runs by
    it). Returns the keys under `prefix`."""
    remote = local.remote
    assert remote is not None
    listed = remote.listed(prefix)
    missing = [k for k in sorted(listed) if not local.path(k).exists()]
    _each(lambda key: write_atomic(local.path(key), remote.read_bytes(key), sync=False), missing)
    top = local.path(prefix)
    folders: dict[Path, float] = {}
    for key in missing:
        os.utime(local.path(key), (listed[key], listed[key]))
        folder = local.path(key).parent
        while folder != top and top in folder.parents:  # quarantine/<run>/gate-failures/x
            folders[folder] = max(folders.get(folder, 0.0), listed[key])
            folder = folder.parent
    for folder, when in sorted(folders.items(), key=lambda item: -len(item[0].parts)):
        os.utime(folder, (when, when))  # deepest first: setting a child's time leaves its parent's
    return sorted(listed)


def reading_copy(warehouse: Warehouse, snapshot_id: str, validating: bool = False) -> Warehouse:
    """For a command reading snapshot `snapshot_id`: the warehouse itself when local; on object
    storage this host's working copy holding that snapshot (whole), and when `validating` also
    the raw files it names and the snapshot before it (what `toll validate` compares with)."""
    if not isinstance(warehouse.storage, S3Storage):
        return warehouse
    from flows.warehouse.snapshots import local_copy, previous

    local = working_copy(warehouse)
    local.ensure()
    local_copy(warehouse, snapshot_id)
    if validating:
        _pull_raw(local, warehouse.storage)
        drop_unpublished(local)
        if (before := previous(warehouse, before=snapshot_id)) is not None:
            local_copy(warehouse, before)
    return local
