"""The S3 backend of the storage seam, against two S3 servers on loopback: moto (fast, in
memory) and SeaweedFS (a real object store, the one the several-hosts test uses).

The same promises as the local folder: create-only writes have one winner, the pointer moves
only if it still holds what the writer read, only complete snapshots become current, retention
never deletes what the pointer names, the sweeper deletes only old unfinished prefixes.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from flows.errors import TollError
from flows.warehouse.layout import Warehouse
from flows.warehouse.snapshots import (
    IncompleteSnapshot,
    current_snapshot,
    delete_snapshot,
    list_snapshots,
    point_current,
    resolve,
    sweep_unfinished,
)
from flows.warehouse.storage import PointerMoved, S3Storage, StorageError


@pytest.fixture(params=["moto", "seaweed"])
def s3_endpoint(request) -> str:
    """Each promise below is checked on both servers: conditional writes are where S3
    implementations differ (both answer 412 to a failed If-None-Match / If-Match)."""
    return request.getfixturevalue(f"{request.param}_endpoint")


def _snapshot(warehouse: Warehouse, stamp: str, tables=("a",), finish: bool = True) -> None:
    """Write a snapshot the way publish does on object storage: data first, manifest last."""
    for table in tables:
        assert warehouse.storage.create(f"snapshots/{stamp}/{table}.parquet", b"PAR1" + b"x")
    if finish:
        meta = {"snapshot": stamp, "tables": {t: 1 for t in tables}}
        warehouse.storage.create(f"snapshots/{stamp}/_snapshot.json", json.dumps(meta).encode())


def test_create_only_and_listing(s3_warehouse_url) -> None:
    storage = S3Storage(s3_warehouse_url)
    assert storage.root == s3_warehouse_url
    assert storage.create("raw/src/a.bin", b"one") is True
    assert storage.create("raw/src/a.bin", b"two") is False  # If-None-Match: * lost
    assert storage.read_bytes("raw/src/a.bin") == b"one"
    storage.write_bytes("raw/src/b.bin", b"b")
    assert storage.list("raw") == ["raw/src/a.bin", "raw/src/b.bin"]
    assert storage.list("ra") == []  # prefixes are folders, as on disk
    assert storage.exists("raw/src/b.bin") and not storage.exists("raw/src/c.bin")
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("raw/src/c.bin")
    storage.delete("raw/src")
    assert storage.list("raw") == []
    with pytest.raises(TollError, match="expected a relative path"):
        storage.read_bytes("../other-prefix/x")


def test_racing_creates_have_exactly_one_winner(s3_warehouse_url) -> None:
    storage = S3Storage(s3_warehouse_url)
    wins = []

    def racer(n: int) -> None:
        wins.append((storage.create("raw/same.bin", f"racer {n}".encode()), n))

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [n for won, n in wins if won]
    assert len(wins) == 8 and len(winners) == 1
    assert storage.read_bytes("raw/same.bin") == f"racer {winners[0]}".encode()


def test_a_moved_pointer_fails_the_slower_run_cleanly(s3_warehouse_url) -> None:
    mine, theirs = S3Storage(s3_warehouse_url), S3Storage(s3_warehouse_url)
    assert mine.read_pointer("current") is None
    mine.swap_pointer("current", "snapshots/20261201T000000Z")
    assert theirs.read_pointer("current") == ("20261201T000000Z", "snapshots/20261201T000000Z")
    assert json.loads(mine.read_bytes("current.json")) == {"target": "snapshots/20261201T000000Z"}

    # both read the same pointer; the first swap wins, the second finds it moved (If-Match)
    mine.swap_pointer("current", "snapshots/20261202T000000Z")
    with pytest.raises(PointerMoved, match="another toll run is writing"):
        theirs.swap_pointer("current", "snapshots/20261203T000000Z")
    assert S3Storage(s3_warehouse_url).read_pointer("current")[0] == "20261202T000000Z"

    # a first publish races too: If-None-Match on a pointer nobody has written yet
    first, second = S3Storage(s3_warehouse_url + "2"), S3Storage(s3_warehouse_url + "2")
    assert first.read_pointer("current") is None and second.read_pointer("current") is None
    first.swap_pointer("current", "snapshots/20261201T000000Z")
    with pytest.raises(PointerMoved):
        second.swap_pointer("current", "snapshots/20261201T000001Z")


def test_only_a_complete_snapshot_becomes_current_and_rollback_is_a_swap(
    s3_warehouse_url,
) -> None:
    warehouse = Warehouse(S3Storage(s3_warehouse_url))
    _snapshot(warehouse, "20261201T000000Z")
    _snapshot(warehouse, "20261202T000000Z", tables=("a", "b"))
    point_current(warehouse, "20261201T000000Z")
    point_current(warehouse, "20261202T000000Z")
    assert [m["snapshot"] for m in list_snapshots(warehouse)] == [
        "20261201T000000Z",
        "20261202T000000Z",
    ]

    # a table the manifest lists is gone: the pointer does not move
    warehouse.storage.delete("snapshots/20261202T000000Z/b.parquet")
    _snapshot(warehouse, "20261203T000000Z", finish=False)
    for broken in ("20261202T000000Z", "20261203T000000Z"):
        with pytest.raises(IncompleteSnapshot, match="current` stays"):
            point_current(warehouse, broken)
    assert warehouse.storage.read_pointer("current")[0] == "20261202T000000Z"

    # rollback: one pointer swap, read back by a fresh reader
    point_current(warehouse, resolve(warehouse, "20261201T000000Z").name)
    assert current_snapshot(Warehouse(S3Storage(s3_warehouse_url))).name == "20261201T000000Z"


def test_retention_never_deletes_what_the_pointer_names(s3_warehouse_url) -> None:
    warehouse = Warehouse(S3Storage(s3_warehouse_url))
    _snapshot(warehouse, "20261201T000000Z")
    _snapshot(warehouse, "20261202T000000Z")
    point_current(warehouse, "20261201T000000Z")
    with pytest.raises(TollError, match="is current"):
        delete_snapshot(warehouse, "20261201T000000Z")
    delete_snapshot(warehouse, "20261202T000000Z")
    assert warehouse.storage.list("snapshots/20261202T000000Z") == []
    assert [m["snapshot"] for m in list_snapshots(warehouse)] == ["20261201T000000Z"]


def test_sweeper_deletes_only_old_unfinished_prefixes(s3_warehouse_url) -> None:
    warehouse = Warehouse(S3Storage(s3_warehouse_url))
    _snapshot(warehouse, "20261201T000000Z")  # finished, current
    _snapshot(warehouse, "20261202T000000Z")  # finished, not current
    _snapshot(warehouse, "20261203T000000Z", finish=False)  # a dead run's orphan
    _snapshot(warehouse, "20261203T230000Z", finish=False)  # a run still writing
    warehouse.storage.write_bytes("snapshots/notes/readme.txt", b"not ours")
    point_current(warehouse, "20261201T000000Z")
    now = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert sweep_unfinished(warehouse, timedelta(hours=6), now=now) == ["20261203T000000Z"]
    left = {key.split("/")[1] for key in warehouse.storage.list("snapshots")}
    assert left == {"20261201T000000Z", "20261202T000000Z", "20261203T230000Z", "notes"}


def test_sweeper_on_a_local_folder_removes_old_staging_only(tmp_path) -> None:
    warehouse = Warehouse.at(tmp_path)
    old = warehouse.snapshots_folder() / ".tmp-20261203T000000000000Z"
    young = warehouse.snapshots_folder() / ".tmp-20261203T230000000000Z"
    for folder in (old, young):
        folder.mkdir(parents=True)
        (folder / "_snapshot.json").write_text("{}")  # written before the rename, locally
    now = datetime(2026, 12, 4, tzinfo=UTC)
    assert sweep_unfinished(warehouse, timedelta(hours=6), now=now) == [old.name]
    assert not old.exists() and young.exists()


def test_an_unreachable_endpoint_is_a_storage_error(monkeypatch) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    storage = S3Storage("s3://bucket/wh", endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(StorageError, match=r"s3://bucket/wh: cannot read raw/x"):
        storage.read_bytes("raw/x")
    with pytest.raises(StorageError, match="expected s3://bucket/prefix"):
        S3Storage("s3:///nobucket")


def test_an_s3_url_is_refused_where_the_commands_are_not_wired(tmp_path, monkeypatch) -> None:
    """Never a local folder named "s3:": one clear line instead."""
    import pytest

    from flows.errors import TollError
    from flows.warehouse.layout import Warehouse

    monkeypatch.chdir(tmp_path)
    with pytest.raises(TollError, match="this command needs a local folder"):
        Warehouse.at("s3://bucket/prefix")
    assert not (tmp_path / "s3:").exists()
