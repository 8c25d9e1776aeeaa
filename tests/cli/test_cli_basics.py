"""The CLI's common behaviour: remembered settings, --version, --json, no warehouse."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows import __version__
from flows.cli import app as cli


def test_init_remembers_settings_for_later_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOLL_SOURCE_DIR", raising=False)
    sources = tmp_path / "sources"
    sources.mkdir()
    result = CliRunner().invoke(cli.app, ["init", "--source-dir", str(sources)])
    assert result.exit_code == 0, result.output
    from flows.config import load_settings

    assert load_settings().source_dir == sources.resolve()
    # a second init keeps what the first wrote
    result = CliRunner().invoke(cli.app, ["init", "--warehouse", str(tmp_path / "wh")])
    assert result.exit_code == 0, result.output
    settings = load_settings()
    assert settings.source_dir == sources.resolve() and settings.warehouse == tmp_path / "wh"
    refused = CliRunner().invoke(cli.app, ["init", "--source-dir", str(tmp_path / "missing")])
    assert refused.exit_code == 1 and "no such folder" in str(refused.exception)


def test_version_and_flags_shown_as_flags():
    result = CliRunner().invoke(cli.app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"toll {__version__}"
    shown = CliRunner().invoke(cli.app, ["snapshots", "--help"]).output
    assert "--json" in shown and "<bool>" not in shown


def test_a_missing_warehouse_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(cli.app, ["snapshots", "--warehouse", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no warehouse at" in str(result.exception)


def test_snapshots_json_is_typed(demo_baseline):
    _, warehouse = demo_baseline
    result = CliRunner().invoke(cli.app, ["snapshots", "--warehouse", str(warehouse), "--json"])
    assert result.exit_code == 0, result.output
    (snapshot,) = json.loads(result.stdout)
    assert snapshot["current"] is True
    assert all(isinstance(n, int) for n in snapshot["tables"].values())
    assert snapshot["run"].startswith("nightly-")


NO_AWS = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_MAX_ATTEMPTS": "1",
}


def test_a_bad_setting_is_one_line_naming_it(tmp_path, monkeypatch):
    import subprocess
    import sys

    for variable, value, command, named in (
        ("TOLL_HTTP_RETRIES", "0", "quarantine", "http_retries"),
        # no credentials for the bucket: one line naming the warehouse, never a folder "s3:"
        ("TOLL_WAREHOUSE", "s3://bucket/prefix", "docs", "warehouse s3://bucket/prefix: cannot"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli.app", command],
            cwd=tmp_path,
            # no AWS credentials and a closed loopback port: nothing can leave this machine
            env={**__import__("os").environ, variable: value, **NO_AWS},
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 1, output
        assert named in output and "Traceback" not in output, output
        assert not (tmp_path / "s3:").exists()


def test_a_system_error_is_one_line_not_a_traceback(demo_baseline, tmp_path):
    """A folder that cannot be written (as a full or read-only disk): the system's words and
    the path, exit 1."""
    import os
    import subprocess
    import sys

    _, warehouse = demo_baseline
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli.app", "report", "--out", str(blocker / "report")],
        env={**os.environ, "TOLL_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "Not a directory" in output, output
    assert str(blocker) in output
