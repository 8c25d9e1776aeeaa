"""Quarantine: bad rows are kept per run with source, file sha256, position, reason and value."""

import hashlib
import json
from datetime import UTC, datetime

import polars as pl
import pytest
from helpers.toll_testing import run_cli

from flows.errors import TollError
from flows.s2_ingest.parsers.mediazona import parse_cumsum
from flows.s4_gate import quarantine as q


def test_record_and_read_back(tmp_path):
    path = q.record(
        tmp_path,
        "run-1",
        [
            q.QuarantinedRow(
                source="mediazona_daily",
                reason="date after the vintage date",
                expectation="expect_column_values_to_be_between",
                file="mediazona/vintages/2024-01-19_cumsum.csv",
                file_sha256="ab" * 32,
                row=7,
                column="date",
                value=datetime(2030, 1, 1).date(),
                stage="raw",
            )
        ],
    )
    assert path is not None and path.parent == tmp_path / "quarantine" / "run-1"
    frame = q.read(tmp_path)
    assert frame.height == 1
    row = frame.row(0, named=True)
    assert row["run_id"] == "run-1"
    assert row["row"] == 7 and row["value"] == "2030-01-01" and row["file_sha256"] == "ab" * 32
    assert row["expectation"] == "expect_column_values_to_be_between"


def test_parse_rejects_keep_the_offending_value(tmp_path):
    parsed = parse_cumsum(
        "mediazona_daily", "x.csv", b"date,change,total\n2024-01-01,1,1\n2024-01-02,two,3\n"
    )
    q.record_rejected(tmp_path, "r", "mediazona_daily", "x.csv", "cd" * 32, parsed.rejected)
    row = q.read(tmp_path, "r").row(0, named=True)
    assert (row["source"], row["row"], row["column"], row["value"]) == (
        "mediazona_daily",
        2,
        "change",
        "two",
    )
    assert row["reason"] == "change: expected int, got 'two'"


def test_runs_are_separate_and_latest_is_default(tmp_path):
    q.record(tmp_path, "20260101T000000Z", [{"source": "a", "reason": "x", "row": 1}])
    q.record(tmp_path, "20260102T000000Z", [{"source": "b", "reason": "y", "row": 2}])
    q.record(tmp_path, "20260102T000000Z", pl.DataFrame({"source": ["b"], "reason": ["z"]}))
    assert q.list_runs(tmp_path) == ["20260101T000000Z", "20260102T000000Z"]
    assert q.read(tmp_path)["reason"].sort().to_list() == ["y", "z"]
    assert q.read(tmp_path, "*").height == 3
    assert q.read(tmp_path, "*", source="a")["run_id"].to_list() == ["20260101T000000Z"]
    assert q.record(tmp_path, "empty", []) is None


def test_run_id_cannot_leave_the_warehouse(tmp_path):
    with pytest.raises(TollError, match="run id"):
        q.record(tmp_path, "../outside", [{"source": "a", "reason": "x"}])


def test_cli_lists_rows(tmp_path):
    q.record(
        tmp_path,
        q.new_run_id(datetime(2026, 1, 1, tzinfo=UTC)),
        [
            {
                "source": "official_claims",
                "reason": "personnel: expected int",
                "row": 3,
                "value": "x",
            }
        ],
    )
    result = run_cli("quarantine", "--warehouse", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["source"], r["row"], r["value"]) for r in rows] == [("official_claims", 3, "x")]
    table = run_cli("quarantine", "--warehouse", str(tmp_path), env={"COLUMNS": "200"})
    assert "official_claims" in table.stdout and "personnel: expected int" in table.stdout


def test_nightly_quarantines_rows_that_do_not_parse(tmp_path):
    from flows.config import load_settings
    from flows.nightly import nightly
    from flows.s1_sources.samples import write_sample_sources

    sources = write_sample_sources(tmp_path / "sources")
    claims = sources / "ua_general_staff/russia_losses_personnel.json"
    reports = json.loads(claims.read_text())
    reports[2]["personnel"] = "many"
    claims.write_text(json.dumps(reports))
    settings = load_settings(source_dir=sources, warehouse=tmp_path / "wh", verify_checksums=False)
    nightly(settings=settings)
    frame = q.read(settings.warehouse, source="official_claims")
    assert frame.select("row", "column", "value").rows() == [(3, "personnel", "many")]
    assert frame["file_sha256"][0] == hashlib.sha256(claims.read_bytes()).hexdigest()
