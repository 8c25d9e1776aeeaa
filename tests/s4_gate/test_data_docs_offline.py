"""Data Docs open from file:// with no network: the index lists the runs, filters and icons
work, and a warning shows as a warning (headless Chromium, two launches)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from flows.ops.run_artifacts import docs_link
from flows.s4_gate.data_docs import build_data_docs
from flows.s4_gate.suites import validate

pytestmark = pytest.mark.slow
STATUS = "expect_column_values_to_be_between"


def _suite(name: str, severity: str, max_value: int) -> dict:
    return {
        "name": name,
        "meta": {"table": "dim_week", "layer": "marts"},
        "expectations": [
            {
                "type": "expect_table_row_count_to_be_between",
                "kwargs": {"min_value": 1},
                "meta": {"severity": "error", "check": "has_rows"},
            },
            {
                "type": STATUS,
                "kwargs": {"column": "iso_week", "min_value": 1, "max_value": max_value},
                "meta": {"severity": severity, "check": "iso_week_in_range"},
            },
        ],
    }


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> Path:
    """One run's Data Docs: a suite that passes, one failing a warning, one failing an error."""
    con = duckdb.connect()
    con.execute("create table dim_week as select range as iso_week from range(1, 54)")
    suites = {
        "all_pass": _suite("all_pass", "error", 53),
        "only_warnings": _suite("only_warnings", "warning", 52),
        "has_error": _suite("has_error", "error", 50),
    }
    result = validate(con, {}, suites)
    assert [r.success for r in result.results] == [True, False, False]
    warehouse = tmp_path_factory.mktemp("warehouse")
    return build_data_docs(result, warehouse / "docs" / "run-1").parent


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium not found (.ci/system-packages installs it)")
        pytest.skip("chromium not found (Debian package chromium)")
    return found


def _dom(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran, with every network host unresolvable."""
    done = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            # offline for real: a page that reaches for a CDN gets nothing
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _result_rows(dom: str) -> list[list[str]]:
    """The cells of each result row (GX ids them section-S-content-block-B-cell-ROW-COLUMN)."""
    parts = re.split(r'<td id="section-(\d+)-content-block-(\d+)-cell-(\d+)-(\d+)"', dom)
    rows: dict[tuple[str, str, str], list[str]] = {}
    for i in range(1, len(parts), 5):
        section, block, row, _column = parts[i : i + 4]
        rows.setdefault((section, block, row), []).append(parts[i + 4])
    return list(rows.values())


def test_no_page_loads_anything_from_the_network_and_every_asset_is_there(docs) -> None:
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) == 7  # index + 3 suites + 3 validation results
    tag = re.compile(r"<(?:script|link)\b[^>]*?(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)
    for page in pages:
        targets = tag.findall(page.read_text(encoding="utf-8"))
        assert [t for t in targets if re.match(r"(https?:)?//", t)] == [], page
        missing = [t for t in targets if not (page.parent / t.split("?")[0]).resolve().exists()]
        assert missing == [], (page, missing)
    assert (docs / "static/vendor/fontawesome/webfonts/fa-solid-900.woff2").exists()
    # the suite's page carries the table's column docs (sql/marts/dim_week.columns.toml)
    suite_page = (docs / "expectations" / "all_pass.html").read_text(encoding="utf-8")
    assert "<code>iso_week</code> (week number (1-53)): ISO week number." in suite_page


def test_the_index_lists_the_run_with_a_warning_as_a_warning(docs, tmp_path) -> None:
    dom = _dom(docs / "index.html", tmp_path / "profile")
    rows = re.findall(r"<tr [^>]*data-href=\"(validations/[^\"]+)\"[^>]*>(.*?)</tr>", dom, re.S)
    by_suite = {href.split("/")[1]: cells for href, cells in rows}
    # bootstrap-table built one row per validation of the run (GX leaves the table empty)
    assert set(by_suite) == {"all_pass", "only_warnings", "has_error"}
    assert all("run-1" in cells for cells in by_suite.values())
    assert "fa-check-circle" in by_suite["all_pass"]
    assert "fa-exclamation-triangle" in by_suite["only_warnings"]
    assert "fa-times" not in by_suite["only_warnings"]
    assert "fa-times" in by_suite["has_error"]
    # the Status filter (bootstrap-table's filter-control) offers the three outcomes
    options = set(re.findall(r"<option value=\"(\w+)\"", dom))
    assert {"Success", "Warning", "Failed"} <= options


def test_a_warning_only_suite_reads_passed_with_warnings_with_its_severity(docs, tmp_path):
    (page,) = (docs / "validations" / "only_warnings").rglob("*.html")
    dom = _dom(page, tmp_path / "profile")
    warned_header = r"Status:</span>\s*<i[^>]*fa-exclamation-triangle[^>]*></i>\s*Passed with warn"
    assert re.search(warned_header, dom)
    assert re.search(r"<th[^>]*>(\s*<div[^>]*>)?\s*Severity", dom)
    rows = _result_rows(dom)
    warned = [r for r in rows if "fa-exclamation-triangle" in r[0]]
    assert len(warned) == 1 and re.search(r">\s*warning\s*<", warned[0][3])
    passed = [r for r in rows if "fa-check-circle" in r[0]]
    assert passed and all(re.search(r">\s*error\s*<", r[3]) for r in passed)
    (failed_page,) = (docs / "validations" / "has_error").rglob("*.html")
    assert re.search(r"Status:</span>\s*<i[^>]*></i>\s*Failed\b", failed_page.read_text())


def test_the_prefect_ui_link_is_http_and_toll_docs_serves_it(docs, tmp_path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    link, text = docs_link(tmp_path, docs / "index.html", f"http://127.0.0.1:{port}")
    assert link == f"http://127.0.0.1:{port}/run-1/index.html" and "toll docs" in text
    warehouse = docs.parent.parent
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "flows.cli.app", "docs", "--warehouse", str(warehouse)]
        + ["--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = None
        for _ in range(120):  # the CLI imports Prefect first: up to a minute on a busy machine
            try:
                page = httpx.get(link, timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.5)
        assert page is not None and page.status_code == 200
        assert "only_warnings" in page.text
        asset = httpx.get(f"http://127.0.0.1:{port}/run-1/static/vendor/jquery.min.js", timeout=5)
        assert asset.status_code == 200 and len(asset.content) > 80_000
    finally:
        server.terminate()
        server.wait(timeout=30)
