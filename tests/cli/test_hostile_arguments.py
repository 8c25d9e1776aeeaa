"""Every CLI command, found by walking the Typer app, driven with generated hostile arguments
(paths with `..`, huge numbers, unicode, empty strings, option-like values, snapshot and run ids
that do not exist) against a small published warehouse: never a traceback, always an exit code,
and the published snapshot (the `current` pointer and its files' bytes) never changes.

`run` and `backfill` start Prefect flows that could publish: they get only arguments that fail
before Prefect starts (an unknown `--accept-shrink` source; an `--end` before the war). `server
start` replaces the process with Prefect's server and `server deploy` creates work pools on a
Prefect server: both are left out. `docs` serves forever when it can: its loop returns at once.
"""

from __future__ import annotations

import http.server
import json
import os
import time

import polars as pl
import pytest
from helpers.cli_testing import toll
from helpers.toll_testing import copy_warehouse, fingerprint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.main import get_command

from flows.cli import app as cli
from flows.s1_sources.catalogue import load_catalogue

EXCLUDED = {
    ("server", "start"): "execs Prefect's server in place of this process",
    ("server", "deploy"): "creates a work pool and deployments on a Prefect server",
}
SOURCES = set(load_catalogue())


def commands(group, prefix: tuple[str, ...] = ()):
    """(name, command) of every command under `group` (Typer's own click classes)."""
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


COMMANDS = dict(commands(get_command(cli.app)))
DRIVEN = sorted(name for name in COMMANDS if name not in EXCLUDED)

# no NUL: an argv never holds one
TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=40)
HOSTILE = st.one_of(
    st.sampled_from(
        ["", " ", ".", "..", "../..", "../../../etc/passwd", "/", "/etc", "/dev/null", "-",
         "--", "--json", "--warehouse", "-h", "~", "~/x", "*", "current", "snapshots",
         "s3://bucket/prefix", "C:\\warehouse", "Москва", "🙂", "\u202e", "ﬁ", "[red]x[/red]",
         ":x:", "%s%n", "{0}", "a" * 300, "nightly-2099-01-01-000000"]
    ),
    st.builds(lambda n, tail: "../" * n + tail, st.integers(1, 4), TEXT),
    TEXT,
)  # fmt: skip
NUMBER = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "65536",
            "99999999999999999999999999999",
            "1e309",
            "nan",
            "0x10",
            " 5",
            "",
            "١٢",
        ]
    ),  # fmt: skip
    st.integers(-(2**70), 2**70).map(str),
    HOSTILE,
)
DATE = st.one_of(
    st.sampled_from(["2024-02-30", "0000-01-01", "9999-12-31", "2024-13-01", "24-01-01", ""]),
    st.dates().map(str),
    HOSTILE,
)


def snapshot_ids(real: str):
    return st.one_of(
        st.sampled_from(
            [real + "x", real[:-1], real.lower(), f" {real}", f"{real}/..", f"../{real}",
             "20990101T000000Z", "00000000T000000Z"]
        ),
        HOSTILE,
    ).filter(lambda s: s != real)  # fmt: skip


def _value(name: str, draw, world: dict) -> str:
    if name == "warehouse":
        return draw(st.sampled_from(world["warehouses"]) | HOSTILE)
    if name.startswith("snapshot"):
        return draw(snapshot_ids(world["snapshot"]))
    if name in ("port", "limit"):
        return draw(NUMBER)
    if name in ("start", "end", "as_of"):
        return draw(DATE)
    if name == "table":  # explain: published tables too, so that its key handling is reached
        return draw(st.sampled_from(world["tables"]) | HOSTILE)
    if name in ("key", "measure"):
        column = draw(st.sampled_from(world["columns"]) | HOSTILE)
        return draw(st.sampled_from([column, f"{column}=", "="])) + (
            draw(DATE | HOSTILE) if name == "key" else ""
        )
    return draw(HOSTILE)


@st.composite
def invocations(draw, name: tuple[str, ...], world: dict) -> list[str]:
    command = COMMANDS[name]
    args = list(name)
    for param in command.params:
        if param.name in world["forced"].get(name, {}):
            continue
        if param.param_type_name == "argument":
            if param.required or draw(st.booleans()):
                args.append(_value(param.name, draw, world))
            continue
        if param.is_flag:
            if draw(st.integers(0, 3)) == 0:
                args.append(param.opts[0])
            continue
        for _ in range(draw(st.integers(0, 2 if param.multiple else 1))):
            args += [param.opts[0], _value(param.name, draw, world)]
    for option, value in world["forced"].get(name, {}).items():
        args += [option, draw(value) if isinstance(value, st.SearchStrategy) else value]
    if draw(st.integers(0, 15)) == 0:
        args.append("--help")
    return args


def test_every_command_is_driven_or_left_out_with_a_reason():
    assert set(DRIVEN) | set(EXCLUDED) == set(COMMANDS)
    assert len(DRIVEN) >= 14, DRIVEN


@pytest.mark.slow
@pytest.mark.parametrize("name", DRIVEN, ids=" ".join)
def test_hostile_arguments_never_give_a_traceback_or_touch_the_published_snapshot(
    name, demo_baseline, tmp_path, monkeypatch
):
    warehouse = copy_warehouse(demo_baseline[1], tmp_path / "warehouse")
    before = fingerprint(warehouse)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a warehouse\n")
    cwd = tmp_path / "cwd" / "a" / "b" / "c" / "d"  # `..` from here stays inside tmp_path
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(http.server.ThreadingHTTPServer, "serve_forever", lambda self: None)
    config = tmp_path / "toll.toml"
    env = {
        "TOLL_CONFIG": str(config),  # never a toll.toml of the checkout
        "TOLL_WAREHOUSE": str(tmp_path / "default-warehouse"),
        "TOLL_SOURCE_DIR": None,
        "TOLL_VERIFY_CHECKSUMS": "false",
        "COLUMNS": "200",
    }
    others = [str(tmp_path / "missing"), str(blocker), str(blocker / "below")]
    meta = json.loads((warehouse / "current" / "_snapshot.json").read_text())
    columns = sorted(
        {
            c
            for t in meta["tables"]
            for c in pl.read_parquet_schema(warehouse / "current" / f"{t}.parquet")
        }
    )
    world = {
        "tables": sorted(meta["tables"]),
        "columns": columns,
        "snapshot": before["snapshot"],
        "warehouses": [str(warehouse), *others],
        "forced": {
            # fails on the unknown source before settings are read or Prefect starts
            ("run",): {"--accept-shrink": HOSTILE.filter(lambda s: s not in SOURCES)},
            # an end before 2022-02-24 fails the range check before Prefect starts
            ("backfill",): {"--end": "2022-01-01"},
            # a full validation or report takes seconds: they meet only warehouses that fail
            ("validate",): {"--warehouse": st.sampled_from(others) | HOSTILE},
            ("report",): {"--warehouse": st.sampled_from(others) | HOSTILE},
        },
    }
    started = time.monotonic()

    @settings(
        max_examples=int(os.environ.get("TOLL_HOSTILE_EXAMPLES", "25")),
        deadline=None,
        database=None,
        # CI runs the same examples every time (a red run reproduces); locally each run
        # searches anew
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(invocations(name, world))
    def check(args: list[str]) -> None:
        code, output = toll(*args, env=env)
        assert code is not None, f"toll {args}:\n{output}"
        assert "Traceback" not in output, f"toll {args}:\n{output}"
        if code == 1:
            last = output.strip().splitlines()[-1]
            assert last.startswith("toll: "), f"toll {args}:\n{output}"
        elif code != 0:
            assert code == 2 and ("Error" in output or "toll: " in output), (args, output)
        assert fingerprint(warehouse) == before, f"toll {args} changed the published snapshot"
        config.unlink(missing_ok=True)  # `init` remembers; the next example starts afresh

    check()
    elapsed = time.monotonic() - started
    assert elapsed < 30 or "TOLL_HOSTILE_EXAMPLES" in os.environ, f"{name}: {elapsed:.0f} s"
    assert fingerprint(warehouse) == before
    assert not (tmp_path / "missing").exists()  # no command creates a warehouse it reads


def test_control_characters_in_an_argument_stay_on_the_one_line(tmp_path):
    """Found by the test above: a warehouse path holding \\x1e (or a newline) split the
    error line in two."""
    for odd in ("a\x1eb", "a\nb", "a\rb", "a\u2028b"):
        code, output = toll("snapshots", "--warehouse", str(tmp_path / odd))
        assert code == 1
        (line,) = output.strip().splitlines()
        assert line.startswith("toll: no warehouse at ") and "a\\" in line, line
