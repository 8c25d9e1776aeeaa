"""`toll snapshots` and `toll rollback` on a warehouse at s3://..., against moto on loopback.

The endpoint and credentials come from the standard AWS variables (the fixture sets them), as a
team would set them. An empty prefix is one line for every reading command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from flows.warehouse.layout import Warehouse
from flows.warehouse.storage import PointerMoved, S3Storage

OLD, NEW, RIVAL = "20261201T000000Z", "20261202T000000Z", "20261203T000000Z"


def _publish(warehouse: Warehouse, stamp: str) -> None:
    """A finished snapshot as publish leaves it on object storage: data, then manifest."""
    assert warehouse.storage.create(f"snapshots/{stamp}/a.parquet", b"PAR1x")
    meta = {
        "snapshot": stamp,
        "published_at": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T00:00:00+00:00",
        "run": {"flow_run_name": f"nightly-{stamp[:8]}"},
        "tables": {"a": 1},
        "gate": {"expectations": 11, "failed_warnings": 0},
    }
    assert warehouse.storage.create(f"snapshots/{stamp}/_snapshot.json", json.dumps(meta).encode())


def _toll(*args: str, cwd, **env: str) -> tuple[int, str]:
    done = subprocess.run(
        # as the `toll` script starts it (`-m flows.cli.app` adds a runpy warning line)
        [sys.executable, "-c", "from flows.cli.app import main; main()", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def published(s3_warehouse_url) -> Warehouse:
    from flows.warehouse.snapshots import point_current

    warehouse = Warehouse(S3Storage(s3_warehouse_url))
    for stamp in (OLD, NEW):
        _publish(warehouse, stamp)
        point_current(warehouse, stamp)
    return warehouse


def test_snapshots_and_rollback_on_s3(published, s3_warehouse_url, tmp_path) -> None:
    code, out = _toll("snapshots", "--json", cwd=tmp_path, TOLL_WAREHOUSE=s3_warehouse_url)
    assert code == 0, out
    listed = json.loads(out)
    assert [(s["snapshot"], s["current"]) for s in listed] == [(OLD, False), (NEW, True)]
    assert listed[1]["run"] == "nightly-20261202"

    # rollback to the one before: one pointer swap, pinned, read back by a fresh reader
    code, out = _toll("rollback", cwd=tmp_path, TOLL_WAREHOUSE=s3_warehouse_url)
    assert code == 0 and f"current is now snapshot {OLD}" in out, out
    fresh = S3Storage(s3_warehouse_url)
    assert fresh.read_pointer("current") == (OLD, f"snapshots/{OLD}")
    assert json.loads(fresh.read_bytes("pinned.json"))["snapshot"] == OLD

    # the flag form too (a Path on the command line; never a local folder named "s3:")
    code, out = _toll("snapshots", "--json", "--warehouse", s3_warehouse_url, cwd=tmp_path)
    assert code == 0, out
    assert [(s["snapshot"], s["current"]) for s in json.loads(out)] == [(OLD, True), (NEW, False)]
    code, out = _toll("rollback", NEW, "--no-pin", "--warehouse", s3_warehouse_url, cwd=tmp_path)
    assert code == 0 and f"current is now snapshot {NEW}" in out, out
    assert fresh.read_pointer("current")[0] == NEW
    assert not fresh.exists("pinned.json")
    assert not (tmp_path / "s3:").exists()

    # an unknown id is one line listing what exists, and the pointer stays
    code, out = _toll("rollback", "20260101T000000Z", cwd=tmp_path, TOLL_WAREHOUSE=s3_warehouse_url)
    assert code == 1 and "no published snapshot" in out and NEW in out, out
    assert "Traceback" not in out
    assert fresh.read_pointer("current")[0] == NEW


def test_other_commands_and_empty_prefixes_are_one_line(s3_warehouse_url, tmp_path) -> None:
    code, out = _toll("snapshots", cwd=tmp_path, TOLL_WAREHOUSE=s3_warehouse_url)
    assert code == 1 and "nothing is stored under that prefix" in out, out
    for command in (["quarantine"], ["report"], ["validate"], ["cite"], ["docs"]):
        code, out = _toll(*command, cwd=tmp_path, TOLL_WAREHOUSE=s3_warehouse_url)
        assert code == 1, (command, out)
        assert "nothing is stored under that prefix" in out, out
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    missing = s3_warehouse_url.replace("s3://", "s3://no-such-bucket-")
    code, out = _toll("snapshots", cwd=tmp_path, TOLL_WAREHOUSE=missing)
    assert code == 1 and "NoSuchBucket" in out and "Traceback" not in out, out


def test_a_rollback_racing_a_publish_fails_cleanly(published, s3_warehouse_url, monkeypatch):
    """Another host publishes between this rollback's read of `current` and its swap: the
    rollback fails (If-Match) and the pointer keeps the other host's snapshot."""
    import flows.s5_publish.snapshots as s5
    from flows.warehouse.snapshots import point_current

    rival = Warehouse(S3Storage(s3_warehouse_url))
    _publish(rival, RIVAL)
    real_resolve = s5.resolve

    def resolve_while_another_host_publishes(warehouse, snapshot):
        point_current(rival, RIVAL)
        return real_resolve(warehouse, snapshot)

    monkeypatch.setattr(s5, "resolve", resolve_while_another_host_publishes)
    mine = Warehouse.at(s3_warehouse_url, object_storage=True)
    with pytest.raises(PointerMoved, match="another toll run is writing"):
        s5.rollback(mine, OLD)
    assert S3Storage(s3_warehouse_url).read_pointer("current")[0] == RIVAL


def _publish_with_table(warehouse: Warehouse, stamp: str, lineage: dict, rows: dict) -> None:
    """A snapshot with one published table and its lineage, data first, manifest last."""
    import io

    lineage["models"]["stg_claims"]["published"] = False

    import polars as pl

    buffer = io.BytesIO()
    pl.DataFrame(rows).write_parquet(buffer)
    assert warehouse.storage.create(f"snapshots/{stamp}/fct_day.parquet", buffer.getvalue())
    assert warehouse.storage.create(f"snapshots/{stamp}/_lineage.json", json.dumps(lineage).encode())
    meta = {"snapshot": stamp, "published_at": "2026-12-01T00:00:00+00:00", "tables": {"fct_day": 2}}
    assert warehouse.storage.create(f"snapshots/{stamp}/_snapshot.json", json.dumps(meta).encode())


def test_diff_on_s3_equals_diff_on_a_local_folder(s3_warehouse_url, tmp_path, monkeypatch) -> None:
    """`toll diff` reads both snapshots from this host's mirror (fetched once, manifest last) and
    says exactly what it says on a local warehouse holding the same objects."""
    from flows.warehouse.snapshots import point_current
    from flows.warehouse.storage import LocalStorage
    from tests.lineage.test_lineage import _lineage

    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    local = Warehouse(LocalStorage(tmp_path / "local"))
    remote = Warehouse(S3Storage(s3_warehouse_url))
    for warehouse in (local, remote):
        _publish_with_table(warehouse, OLD, _lineage("m1", "c1", 0.45), {"day": [1, 2], "n": [5, 6]})
        _publish_with_table(warehouse, NEW, _lineage("m1", "c2", 0.45), {"day": [1, 3], "n": [5, 7]})
        point_current(warehouse, NEW)
    outputs = []
    for where in (str(tmp_path / "local"), s3_warehouse_url):
        code, out = _toll("diff", "--json", cwd=tmp_path, TOLL_WAREHOUSE=where)
        assert code == 0, out
        outputs.append(json.loads(out))
    assert outputs[0] == outputs[1]
    table = next(t for t in outputs[1]["tables"] if t["table"] == "fct_day")
    assert (table["added"], table["removed"]) == (1, 1)
    mirror = cache / "toll" / "s3" / s3_warehouse_url.removeprefix("s3://") / "snapshots"
    assert sorted(p.name for p in (mirror / NEW).iterdir()) == [
        "_lineage.json",
        "_snapshot.json",
        "fct_day.parquet",
    ]
