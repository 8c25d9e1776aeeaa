"""`toll run` with the warehouse on s3://, against moto's S3 server on loopback.

A run pulls the bucket into this host's working copy, builds there, uploads raw files by content
and the snapshot under its own prefix (manifest last), checks it, then swaps the pointer with
If-Match. Its published tables equal a local-folder run's byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from helpers.moto_s3 import CREDENTIALS, new_bucket

from flows.warehouse.layout import Warehouse
from flows.warehouse.lock import warehouse_lock
from flows.warehouse.storage import LocalStorage, PointerMoved, S3Storage
from flows.warehouse.working_copy import OBJECTS, publish_remote, pull, working_copy


def _nightly(sources: Path, warehouse: str):
    from flows.config import load_settings
    from flows.nightly import nightly

    settings = load_settings(source_dir=sources, warehouse=warehouse, verify_checksums=False)
    return nightly(settings=settings)


def _host(monkeypatch, tmp_path: Path, name: str) -> Path:
    """A host of its own: its own cache folder, so nothing is shared with the others but S3."""
    cache = tmp_path / name
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture(scope="module")
def s3_published(demo_baseline, moto_endpoint, tmp_path_factory):
    """A bucket on which host A ran the demo nightly (the sources `demo_baseline` published into
    a local folder), with a dead run's and a live run's unfinished prefixes planted before it.

    Yields (url, snapshot id, local warehouse, sources, dead stamp, live stamp, hosts folder)."""
    sources, local = demo_baseline
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CREDENTIALS.items():
            patch.setenv(name, value)
        patch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
            patch.delenv(name, raising=False)
        url = f"s3://{new_bucket(moto_endpoint)}/wh"
        bucket = S3Storage(url)
        dead = "20200101T000000Z"
        live = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        for stamp in (dead, live):
            assert bucket.create(f"snapshots/{stamp}/fct_weekly_losses.parquet", b"PAR1 half")
        hosts = tmp_path_factory.mktemp("hosts")
        patch.setenv("XDG_CACHE_HOME", str(hosts / "host-a"))
        result = _nightly(sources, url)
        assert not result.unchanged
        name = Path(result.snapshot).name
        if _fetch_dates(json.loads(bucket.read_bytes(f"snapshots/{name}/_snapshot.json"))) != (
            _fetch_dates(json.loads((local / "current" / "_snapshot.json").read_text()))
        ):
            # midnight (UTC) fell between the two runs: an undated file's as_of is its fetch date,
            # so compare with a local run made now, on the S3 run's date (one CI run at 00:01 failed)
            local = tmp_path_factory.mktemp("same-day") / "warehouse"
            _nightly(sources, str(local))
        yield url, name, local, sources, dead, live, hosts


def _fetch_dates(metadata: dict) -> dict[str, list[str]]:
    return {s: [f["as_of"] for f in files] for s, files in metadata["sources"].items()}


def test_a_demo_run_publishes_to_s3_as_a_local_run_does(s3_published, monkeypatch) -> None:
    url, name, local, sources, dead, live, hosts = s3_published
    fresh = S3Storage(url)
    assert fresh.read_pointer("current") == (name, f"snapshots/{name}")

    # the published tables: the local run's bytes (same sources, same code)
    meta = json.loads(fresh.read_bytes(f"snapshots/{name}/_snapshot.json"))
    ours = json.loads((local / "current" / "_snapshot.json").read_text())
    assert meta["tables"] == ours["tables"] and len(meta["tables"]) >= 10
    assert meta["inputs_fingerprint"] == ours["inputs_fingerprint"]
    for table in meta["tables"]:
        published = fresh.read_bytes(f"snapshots/{name}/{table}.parquet")
        assert published == (local / "current" / f"{table}.parquet").read_bytes(), table

    # raw files by content: each object hashes to its name, each stored once
    objects = fresh.list(OBJECTS)
    assert objects and len(objects) == len(set(objects))
    some = objects[len(objects) // 2]
    assert hashlib.sha256(fresh.read_bytes(some)).hexdigest() == some.rsplit("/", 1)[1]
    # the run's Data Docs went up as objects
    assert any(k.endswith("/index.html") for k in fresh.list("docs"))
    # the sweeper took the dead run's prefix only
    assert not fresh.list(f"snapshots/{dead}") and fresh.list(f"snapshots/{live}")

    # the run's report is linked by a presigned URL: a browser opens it without credentials
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["toll-report"]))
        )
    bucket_name = url.removeprefix("s3://").split("/")[0]
    data = next(a.data for a in found if bucket_name in a.data)
    link = re.search(r"\((http[^)]+)\)", data).group(1)  # a link artifact: [text](url)
    page = httpx.get(link, timeout=30)  # the loopback moto server, no AWS credentials sent
    assert page.status_code == 200
    assert page.content == fresh.read_bytes(f"snapshots/{name}/report/report.html")
    assert b"data:image/png;base64," in page.content  # one page: the charts are inline

    # another host, nothing shared but the bucket: pulls, finds nothing changed, the snapshot
    # stands and no object is written again
    monkeypatch.setenv("XDG_CACHE_HOME", str(hosts / "host-b"))
    before = fresh.list("")
    again = _nightly(sources, url)
    assert again.unchanged and Path(again.snapshot).name == name
    assert fresh.list("") == before
    assert S3Storage(url).read_pointer("current")[0] == name


def test_reading_commands_on_s3(s3_published, tmp_path) -> None:
    """validate, report, cite and quarantine on s3:// from a host that never ran: each reads
    this host's copy; what they write (Data Docs, report) goes to the bucket as objects."""
    import io

    import polars as pl

    from flows.s4_gate.quarantine import SCHEMA
    from tests.warehouse.test_s3_commands import _toll

    url, name, local, *_, hosts = s3_published
    env = {"TOLL_WAREHOUSE": url, "XDG_CACHE_HOME": str(hosts / "host-c")}
    bucket = S3Storage(url)

    code, out = _toll("validate", "--json", cwd=tmp_path, **env)
    assert code == 0, out
    checks = json.loads(out)
    assert len(checks) > 100 and not [
        c for c in checks if c["severity"] == "error" and not c["success"]
    ]
    assert bucket.exists(f"docs/validate-{name}/index.html")

    code, out = _toll("report", cwd=tmp_path, **env)
    assert code == 0 and f"{url}/reports/{name}/" in out, out
    assert bucket.exists(f"reports/{name}/report.html")
    link = out.split("link (valid 7 days): ", 1)[1].split()[0]
    assert httpx.get(link, timeout=30).content == bucket.read_bytes(f"reports/{name}/report.html")

    # `toll docs` serves the bucket's Data Docs from this host's working copy
    assert _served_docs(env, tmp_path, f"validate-{name}/index.html") == bucket.read_bytes(
        f"docs/validate-{name}/index.html"
    )

    code, out = _toll("cite", cwd=tmp_path, **env)
    assert code == 0, out
    assert out == bucket.read_bytes(f"snapshots/{name}/CITATION.txt").decode() and name in out

    # a run's quarantine part, as a run uploads it; read back from a fresh host
    row = {c: None for c in SCHEMA} | {
        "run_id": "nightly-2026-12-04-010203",
        "recorded_at": datetime(2026, 12, 4, tzinfo=UTC),
        "stage": "parse",
        "source": "official_claims",
        "file": "claims.csv",
        "row": 7,
        "expectation": "parse",
        "reason": "expected a date in column date",
    }
    buffer = io.BytesIO()
    pl.DataFrame([row], schema=SCHEMA).write_parquet(buffer)
    assert bucket.create("quarantine/nightly-2026-12-04-010203/part-0.parquet", buffer.getvalue())
    code, out = _toll("quarantine", "--json", cwd=tmp_path, **env)
    assert code == 0, out
    assert [(r["source"], r["row"]) for r in json.loads(out)] == [("official_claims", 7)]
    code, out = _toll("quarantine", "--runs", cwd=tmp_path, **env)
    assert code == 0 and out.split()[-1] == "nightly-2026-12-04-010203", out  # newest last
    assert not (tmp_path / "s3:").exists()


def _served_docs(env: dict, cwd: Path, page: str) -> bytes:
    """Start `toll docs` on a free loopback port, GET `page`, stop it."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", "from flows.cli.app import main; main()", "docs", "--port", str(port)],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):  # bounded: at most 60 s for the server to start
            try:
                return httpx.get(f"http://127.0.0.1:{port}/{page}", timeout=5).content
            except httpx.TransportError:
                time.sleep(0.5)
        raise AssertionError("toll docs did not answer within 60 s")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_backfill_on_s3_republishes_from_another_host(s3_published, monkeypatch) -> None:
    from datetime import date

    from flows.backfill import backfill
    from flows.config import load_settings

    url, name, _, sources, *_, hosts = s3_published
    monkeypatch.setenv("XDG_CACHE_HOME", str(hosts / "host-d"))
    settings = load_settings(source_dir=sources, warehouse=url, verify_checksums=False)
    result = backfill(date(2022, 6, 1), date(2022, 6, 30), settings)
    new = Path(result.snapshot).name
    bucket = S3Storage(url)
    assert new != name and bucket.read_pointer("current")[0] == new
    meta = json.loads(bucket.read_bytes(f"snapshots/{new}/_snapshot.json"))
    assert meta["backfill"]["based_on"] == name
    assert name in {k.split("/")[1] for k in bucket.list("snapshots")}  # kept (keep_snapshots)


def _local_snapshot(local: Warehouse, stamp: str) -> None:
    folder = local.snapshot_folder(stamp)
    folder.mkdir(parents=True)
    (folder / "a.parquet").write_bytes(b"PAR1 " + stamp.encode())
    meta = {"snapshot": stamp, "tables": {"a": 1}}
    (folder / "_snapshot.json").write_text(json.dumps(meta))


def test_a_pointer_moved_by_another_host_fails_the_slower_publish_cleanly(
    s3_warehouse_url, tmp_path, monkeypatch
) -> None:
    """Two hosts pull the same pointer; the first to swap wins, the second fails with one line
    and leaves neither its objects on the bucket nor its snapshot in its working copy."""
    copies = []
    for host in ("a", "b"):
        _host(monkeypatch, tmp_path, host)
        copy = working_copy(Warehouse.at(s3_warehouse_url, object_storage=True))
        assert isinstance(copy.storage, LocalStorage) and copy.remote is not None
        assert pull(copy) is None
        copies.append(copy)
    first, second = copies
    _local_snapshot(first, "20261201T000000Z")
    _local_snapshot(second, "20261201T000001Z")
    publish_remote(first, "20261201T000000Z")
    with pytest.raises(PointerMoved, match="another toll run is writing") as failed:
        publish_remote(second, "20261201T000001Z")
    assert "\n" not in str(failed.value)
    bucket = S3Storage(s3_warehouse_url)
    assert bucket.read_pointer("current")[0] == "20261201T000000Z"
    assert bucket.list("snapshots") == [
        "snapshots/20261201T000000Z/_snapshot.json",
        "snapshots/20261201T000000Z/a.parquet",
    ]
    # the slower host pulls again: its working copy now names the winner, and holds no
    # snapshot the bucket does not (as after a kill between its local rename and its upload)
    assert second.snapshot_folder("20261201T000001Z").is_dir()
    with warehouse_lock(second):  # a run on that host, between its rename and its upload
        assert pull(second) == "20261201T000000Z"
    assert second.snapshot_folder("20261201T000001Z").is_dir()  # left to that run
    assert pull(second) == "20261201T000000Z"
    assert not second.snapshot_folder("20261201T000001Z").exists()
    assert (second.current_folder() / "a.parquet").read_bytes() == b"PAR1 20261201T000000Z"


def test_retention_on_s3_never_deletes_the_pointer_target(
    s3_warehouse_url, tmp_path, monkeypatch
) -> None:
    from flows.s5_publish.snapshots import prune
    from flows.warehouse.snapshots import point_current

    _host(monkeypatch, tmp_path, "a")
    copy = working_copy(Warehouse.at(s3_warehouse_url, object_storage=True))
    pull(copy)
    stamps = [f"2026120{d}T000000Z" for d in range(1, 5)]
    for stamp in stamps:
        _local_snapshot(copy, stamp)
        point_current(copy, stamp)
    bucket = Warehouse(S3Storage(s3_warehouse_url))
    point_current(bucket, stamps[0])  # a rollback on another host, to the oldest
    pull(copy)
    assert sorted(prune(copy, 2)) == [stamps[1]]
    names = {k.split("/")[1] for k in bucket.storage.list("snapshots")}
    assert names == {stamps[0], stamps[2], stamps[3]}
    assert bucket.storage.read_pointer("current")[0] == stamps[0]
