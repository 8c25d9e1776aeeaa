"""Network faults from a local HTTP server on 127.0.0.1: retried where a retry can help,
otherwise the run ends naming the source and URL, and the published snapshot stays as it was."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
from helpers.fault_server import FaultServer, Reply, ok, redirect, slow, status, truncated
from helpers.toll_testing import (
    assert_intact,
    copy_warehouse,
    fingerprint,
    published_ids,
    run_cli,
    with_one_more_claims_report,
)

from flows.config import load_settings
from flows.errors import ChecksumMismatch, SourceUnavailable, TollError
from flows.nightly import nightly
from flows.s1_sources.catalogue import load_catalogue
from flows.s2_ingest.fetch import MAX_REDIRECTS, fetch_bytes
from flows.warehouse.raw_store import read_manifest

BODY = b"date,change,total\n2024-01-01,3,3\n"
FAST = {"timeout": 0.5, "backoff": 0.01}


@pytest.fixture()
def server():
    with FaultServer() as running:
        yield running


# --- fetch_bytes against each fault ----------------------------------------------------


def test_500_then_success_is_retried(server) -> None:
    url = server.on("flaky.csv", status(500), ok(BODY))
    content, sha256 = fetch_bytes("mediazona_daily", url, attempts=3, **FAST)
    assert content == BODY
    assert sha256 == hashlib.sha256(BODY).hexdigest()
    assert server.requests["/flaky.csv"] == 2


def test_429_then_success_is_retried(server) -> None:
    url = server.on("busy.csv", status(429), status(503), ok(BODY))
    assert fetch_bytes("weekly_named", url, attempts=3, **FAST)[0] == BODY
    assert server.requests["/busy.csv"] == 3


def test_persistent_500_ends_naming_source_url_and_attempts(server) -> None:
    url = server.on("down.csv", status(500))
    with pytest.raises(SourceUnavailable) as info:
        fetch_bytes("mediazona_daily", url, attempts=3, **FAST)
    message = str(info.value)
    assert "source 'mediazona_daily'" in message
    assert url in message
    assert "HTTP 500" in message and "after 3 attempts" in message
    assert server.requests["/down.csv"] == 3


def test_timeout_is_retried_then_succeeds(server) -> None:
    url = server.on("slow.csv", slow(BODY, 1.5), ok(BODY))
    assert fetch_bytes("official_claims", url, attempts=2, timeout=0.3, backoff=0.01)[0] == BODY
    assert server.requests["/slow.csv"] == 2


def test_persistent_timeout_ends_naming_source_and_url(server) -> None:
    url = server.on("stuck.csv", slow(BODY, 1.5))
    with pytest.raises(SourceUnavailable) as info:
        fetch_bytes("official_claims", url, attempts=2, timeout=0.3, backoff=0.01)
    message = str(info.value)
    assert "source 'official_claims'" in message and url in message
    assert "no response within 0.3 s" in message and "after 2 attempts" in message
    assert server.requests["/stuck.csv"] == 2


def test_truncated_body_is_retried_then_succeeds(server) -> None:
    url = server.on("cut.csv", truncated(BODY), ok(BODY))
    assert fetch_bytes("named_records", url, attempts=3, **FAST)[0] == BODY
    assert server.requests["/cut.csv"] == 2


def test_persistently_truncated_body_is_never_returned(server) -> None:
    url = server.on("cut.csv", truncated(BODY))
    with pytest.raises(SourceUnavailable) as info:
        fetch_bytes("named_records", url, attempts=2, **FAST)
    message = str(info.value)
    assert "source 'named_records'" in message and url in message
    assert "cut short" in message
    assert server.requests["/cut.csv"] == 2


def test_checksum_mismatch_is_not_retried_and_names_both_hashes(server) -> None:
    url = server.on("pinned.csv", ok(BODY + b"2024-01-02,1,4\n"))
    expected = hashlib.sha256(BODY).hexdigest()
    with pytest.raises(ChecksumMismatch) as info:
        fetch_bytes("weekly_named", url, sha256=expected, attempts=3, **FAST)
    message = str(info.value)
    assert "source 'weekly_named'" in message and url in message
    assert expected in message and "nothing was stored" in message
    assert server.requests["/pinned.csv"] == 1


def test_redirect_loop_is_not_retried(server) -> None:
    url = server.on("a.csv", redirect("/b.csv"))
    server.on("b.csv", redirect("/a.csv"))
    with pytest.raises(SourceUnavailable) as info:
        fetch_bytes("regions", url, attempts=3, **FAST)
    message = str(info.value)
    assert "source 'regions'" in message and url in message
    assert "redirect loop" in message
    # one request and MAX_REDIRECTS redirects followed, once: no retry
    assert server.requests["/a.csv"] + server.requests["/b.csv"] == MAX_REDIRECTS + 1


def test_redirect_to_a_file_is_followed(server) -> None:
    url = server.on("moved.csv", redirect("/here.csv"))
    server.on("here.csv", ok(BODY))
    assert fetch_bytes("regions", url, **FAST)[0] == BODY


@pytest.mark.parametrize("code", [404, 403, 410])
def test_client_errors_are_not_retried(server, code: int) -> None:
    url = server.on("gone.csv", status(code))
    with pytest.raises(SourceUnavailable) as info:
        fetch_bytes("census_men", url, attempts=4, **FAST)
    message = str(info.value)
    assert "source 'census_men'" in message and url in message
    assert f"HTTP {code}" in message and "attempts" not in message
    assert server.requests["/gone.csv"] == 1


def test_refused_connection_is_retried_then_named() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.csv"
    with pytest.raises(SourceUnavailable) as info:
        fetch_bytes("regions", url, attempts=2, **FAST)
    assert "cannot connect" in str(info.value) and "after 2 attempts" in str(info.value)
    assert url in str(info.value)


# --- a whole nightly run whose changed source misbehaves --------------------------------

CLAIMS = "ua_general_staff/russia_losses_personnel.json"


def _served_catalogue(server: FaultServer, path: Path, pins: dict[str, str]) -> Path:
    """The built-in catalogue with every file read from `server`; sha256 only where pinned."""
    lines = []
    for source in load_catalogue().values():
        lines += [
            f"[sources.{source.name}]",
            f"title = {json.dumps(source.title)}",
            f"format = {json.dumps(source.format)}",
            f"licence = {json.dumps(source.licence)}",
            f"keep = {json.dumps('all' if source.keep_all_vintages else 'latest')}",
        ]
        for spec in source.files:
            lines += [
                f"[[sources.{source.name}.files]]",
                f"local = {json.dumps(spec.local)}",
                f"url = {json.dumps(server.url(spec.local))}",
            ]
            if spec.local in pins:
                lines.append(f"sha256 = {json.dumps(pins[spec.local])}")
            if spec.as_of:
                lines.append(f'as_of = "{spec.as_of.isoformat()}"')
        lines.append("")
    path.write_text("\n".join(lines))
    return path


FAULTS = {
    "404": (status(404),),
    "timeout": (slow(b"[]", 1.5),),
    "truncated body": "truncated",
    "checksum mismatch": "pinned",
    "redirect loop": (redirect("/" + CLAIMS),),
    "500 every time": (status(500),),
}


@pytest.fixture()
def served(demo_baseline, tmp_path):
    """A copy of the baseline warehouse and a server holding sources where claims changed."""
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    changed = with_one_more_claims_report(sources, tmp_path / "sources")
    with FaultServer(root=changed) as server:
        yield server, changed, warehouse


def _settings(catalogue: Path, warehouse: Path, verify: bool = False):
    return load_settings(
        catalogue=catalogue,
        warehouse=warehouse,
        verify_checksums=verify,
        http_retries=2,
        http_backoff_seconds=0.01,
        http_timeout_seconds=0.5,
    )


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_on_changed_source_ends_run_and_keeps_snapshot(served, tmp_path, fault) -> None:
    server, changed, warehouse = served
    new_claims = (changed / CLAIMS).read_bytes()
    pins = {}
    if FAULTS[fault] == "truncated":
        server.on(CLAIMS, truncated(new_claims))
    elif FAULTS[fault] == "pinned":
        # pinned to a content upstream no longer serves (not one the warehouse holds: a pin
        # already stored is not fetched again)
        pins[CLAIMS] = hashlib.sha256(new_claims[:-1] + b" ").hexdigest()
    else:
        server.on(CLAIMS, *FAULTS[fault])
    catalogue = _served_catalogue(server, tmp_path / "catalogue.toml", pins)
    before, published = fingerprint(warehouse), published_ids(warehouse)
    manifest = read_manifest(warehouse)

    with pytest.raises(TollError) as info:
        nightly(settings=_settings(catalogue, warehouse, verify=bool(pins)))

    message = str(info.value)
    assert "source 'official_claims'" in message
    assert server.url(CLAIMS) in message
    assert_intact(warehouse, before)
    assert published_ids(warehouse) == published
    # nothing of the failed file was kept; everything kept before still is
    assert read_manifest(warehouse) == manifest
    assert all((warehouse / e.raw_path).exists() for e in manifest)


@pytest.mark.slow
def test_500_then_success_publishes_the_new_data_and_keeps_the_old_snapshot(
    served, tmp_path
) -> None:
    server, changed, warehouse = served
    server.on(CLAIMS, status(500), Reply(503), ok((changed / CLAIMS).read_bytes()))
    catalogue = _served_catalogue(server, tmp_path / "catalogue.toml", {})
    before = fingerprint(warehouse)
    old = warehouse / "snapshots" / before["snapshot"]

    settings = _settings(catalogue, warehouse).model_copy(update={"http_retries": 3})
    result = nightly(settings=settings)

    assert server.requests["/" + CLAIMS] == 3
    assert result.unchanged is False and result.new_files == 1
    assert fingerprint(warehouse)["snapshot"] != before["snapshot"]
    # the earlier snapshot is still there, byte for byte
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(old.iterdir()) if p.is_file()} == before["files"]  # fmt: skip


@pytest.mark.slow
def test_cli_reports_a_404_without_traceback(served, tmp_path) -> None:
    server, _, warehouse = served
    server.on(CLAIMS, status(404))
    catalogue = _served_catalogue(server, tmp_path / "catalogue.toml", {})
    before = fingerprint(warehouse)

    done = run_cli(
        "run", "--warehouse", str(warehouse),
        env={"TOLL_CATALOGUE": str(catalogue), "TOLL_HTTP_RETRIES": "2"},
    )  # fmt: skip

    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("toll: source 'official_claims': cannot fetch")
    assert f"{server.url(CLAIMS)}: HTTP 404" in last
    assert_intact(warehouse, before)
