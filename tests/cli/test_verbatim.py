"""File content is printed as it is: a line holding `:x:` or `[red]` is never turned into an
emoji or a style, in the CLI's output, its final error line, Prefect's log lines or the run's
state message."""

from __future__ import annotations

import io
import logging
import shutil

from helpers.cli_testing import toll
from helpers.toll_testing import copy_warehouse, fingerprint

from flows.errors import plain_log_consoles
from flows.s4_gate import quarantine

HOSTILE = ":x: [red]boom[/red] [bold]"


def test_a_bad_header_is_quoted_verbatim_in_the_error_line_and_the_state(demo_baseline, tmp_path):
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    broken = tmp_path / "sources"
    shutil.copytree(sources, broken)
    daily = broken / "mediazona" / "last_data.csv"
    header, rest = daily.read_bytes().split(b"\n", 1)
    daily.write_bytes(header.replace(b",", b";") + HOSTILE.encode() + b"\n" + rest)
    before = fingerprint(warehouse)

    code, output = toll(
        "run",
        "--warehouse",
        str(warehouse),
        "--source-dir",
        str(broken),
        env={"TOLL_VERIFY_CHECKSUMS": "false"},
    )
    assert code == 1, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("toll: source 'mediazona_daily'"), output
    assert f"found ['date;change;total{HOSTILE}']" in last, last
    assert "❌" not in output and "Traceback" not in output
    assert fingerprint(warehouse) == before

    from prefect import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (latest,) = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
    assert latest.state.is_failed()
    assert f"total{HOSTILE}" in latest.state.message, latest.state.message


def test_prefect_console_log_lines_keep_emoji_codes_and_brackets():
    from prefect.logging.handlers import PrefectConsoleHandler

    stream = io.StringIO()
    handler = PrefectConsoleHandler(stream=stream)
    logger = logging.getLogger("toll.test.verbatim")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("before %s", HOSTILE)
        assert "❌" in stream.getvalue()  # what Prefect's handler does by itself
        plain_log_consoles()
        logger.warning("after %s", HOSTILE)
    finally:
        logger.removeHandler(handler)
    after = stream.getvalue().splitlines()[-1]
    assert after.endswith(f"after {HOSTILE}"), after


def test_quarantined_values_print_verbatim_in_tables_and_json(demo_baseline, tmp_path):
    warehouse = copy_warehouse(demo_baseline[1], tmp_path / "warehouse")
    row = quarantine.QuarantinedRow(
        source="official_claims",
        file="ua_general_staff/russia_losses_personnel.json",
        file_sha256="0" * 64,
        row=7,
        expectation="parse",
        reason=f"personnel: expected int, got {HOSTILE!r}",
        column="personnel",
        value=HOSTILE,
    )
    quarantine.record(warehouse, "nightly-2026-12-04-000000", [row])
    code, output = toll(
        "quarantine", "--warehouse", str(warehouse), "--limit", "0", env={"COLUMNS": "400"}
    )
    assert code == 0, output
    assert f"│ {HOSTILE} │" in output and "❌" not in output, output
    code, output = toll("quarantine", "--json", "--warehouse", str(warehouse))
    assert code == 0 and HOSTILE in output and "❌" not in output, output
