"""Every command that takes a snapshot or run id, or reads a warehouse: an odd id, a warehouse
that is a file, missing or read-only gives one clear line and exit 1, never a traceback, and
leaves the published snapshot as it was."""

from __future__ import annotations

import pytest
from helpers.cli_testing import can_mount, read_only, toll
from helpers.toll_testing import copy_warehouse, fingerprint

ODD_IDS = ["..", "../snapshots", "/etc", "", "current", "20990101T000000Z", "2026-12-04", "x" * 300]


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output, output
    assert len(lines) == 1, output
    assert lines[0].startswith("toll: "), output
    return lines[0]


def _snapshot_commands(snapshot: str) -> list[list[str]]:
    return [
        ["validate", snapshot, "--no-docs"],
        ["cite", snapshot],
        ["cite", snapshot, "--cff"],
        ["explain", "fct_weekly_losses", "--key", "week_start=2022-03-07", "--snapshot", snapshot],
        ["diff", snapshot],
        ["diff", snapshot, snapshot],
        ["rollback", snapshot],
    ]


@pytest.fixture
def warehouse(demo_baseline, tmp_path):
    return copy_warehouse(demo_baseline[1], tmp_path / "warehouse")


@pytest.mark.parametrize("snapshot", ODD_IDS)
def test_an_odd_snapshot_id_is_one_line_from_the_one_resolver(warehouse, snapshot):
    before = fingerprint(warehouse)
    for args in _snapshot_commands(snapshot):
        code, output = toll(*args, "--warehouse", str(warehouse))
        assert code == 1, (args, output)
        line = _one_line(output)
        assert f"no published snapshot {snapshot!r} in {warehouse}" in line, (args, line)
        assert before["snapshot"] in line  # the latest ids are named
    assert fingerprint(warehouse) == before


def test_an_unknown_quarantine_run_or_source_is_an_error_naming_the_known(warehouse):
    for args, expected in (
        (["quarantine", "nightly-2099-01-01-000000"], "no run 'nightly-2099-01-01-000000'"),
        (["quarantine", ".."], "quarantine run id '..'"),
        (["quarantine", "../../etc"], "quarantine run id '../../etc'"),
        (["quarantine", ""], "quarantine run id ''"),
        (["quarantine", "--source", "nosuch"], "--source 'nosuch': no such source"),
    ):
        code, output = toll(*args, "--warehouse", str(warehouse))
        assert code == 1, (args, output)
        assert expected in _one_line(output), (args, output)
    # a run toll knows, which quarantined nothing: an answer, not an error
    run = next(p.name for p in (warehouse / "docs").iterdir() if p.name.startswith("nightly-"))
    code, output = toll("quarantine", run, "--warehouse", str(warehouse))
    assert code == 0 and f"no quarantined rows for run {run}" in output, output


def test_out_of_range_numbers_are_usage_errors(warehouse):
    where = ["--warehouse", str(warehouse)]
    for args in (["docs", "--port", "70000", *where], ["docs", "--port", "0", *where],
                 ["history", "--limit", "0"], ["history", "--limit", "201"],
                 ["quarantine", "--limit", "-1", *where]):  # fmt: skip
        code, output = toll(*args)
        assert code == 2, (args, output)
        assert "Traceback" not in output and "Invalid value" in output, (args, output)


READERS = [
    ["validate"],
    ["validate", "--no-docs"],
    ["cite"],
    ["snapshots"],
    ["report"],
    ["quarantine"],
    ["quarantine", "--runs"],
    ["rollback"],
    ["rollback", "--release"],
    ["diff"],
    ["explain", "fct_weekly_losses", "--key", "week_start=2022-03-07"],
    ["docs"],
]


@pytest.mark.parametrize("kind", ["file", "missing", "under a file"])
def test_a_warehouse_that_is_not_a_folder_is_one_line(tmp_path, kind):
    target = {
        "file": tmp_path / "a-file",
        "missing": tmp_path / "nowhere",
        "under a file": tmp_path / "a-file" / "warehouse",
    }[kind]
    (tmp_path / "a-file").write_text("not a warehouse\n")
    expected = {
        "file": f"warehouse {target} is a file, not a folder",
        "missing": f"no warehouse at {target}",
        "under a file": f"warehouse {target}: {tmp_path / 'a-file'} is a file, not a folder",
    }[kind]
    for args in READERS:
        for how in ("flag", "variable"):
            if how == "flag":
                code, output = toll(*args, "--warehouse", str(target))
            else:
                code, output = toll(*args, env={"TOLL_WAREHOUSE": str(target)})
            assert code == 1, (args, how, output)
            assert expected in _one_line(output), (args, how, output)
    assert not (tmp_path / "nowhere").exists()  # a reader never creates the warehouse
    assert (tmp_path / "a-file").read_text() == "not a warehouse\n"


@pytest.mark.skipif(not can_mount(), reason="a read-only bind mount needs root")
def test_a_read_only_warehouse_is_read_and_every_write_refused_in_one_line(warehouse):
    before = fingerprint(warehouse)
    with read_only(warehouse) as view:
        for args in (["cite"], ["snapshots"], ["quarantine"], ["validate", "--no-docs"]):
            code, output = toll(*args, "--warehouse", str(view))
            assert code == 0 and "Traceback" not in output, (args, output)
        for args, expected in (
            (["validate"], "run `toll validate --no-docs`"),
            (["report"], "give a folder you can write with --out DIR"),
            (["rollback", "--release"], "cannot write to warehouse"),
            (["rollback", "--no-pin"], "cannot write to warehouse"),
        ):
            code, output = toll(*args, "--warehouse", str(view))
            assert code == 1, (args, output)
            line = _one_line(output)
            assert expected in line and "Read-only file system" in line, (args, line)
        # a run or backfill says so before it starts Prefect (no server, no Prefect error line)
        for args in (
            ["run", "--rebuild"],
            ["backfill", "--start", "2024-01-01", "--end", "2024-01-31"],
        ):
            code, output = toll(*args, "--warehouse", str(view))
            assert code == 1, (args, output)
            assert "Traceback" not in output and "prefect" not in output.lower(), (args, output)
            last = output.strip().splitlines()[-1]
            assert last == f"toll: cannot write to warehouse {view}: Read-only file system", last
    assert fingerprint(warehouse) == before
