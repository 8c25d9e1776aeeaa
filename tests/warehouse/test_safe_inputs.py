"""Safe inputs: configuration cannot lead toll outside its folders, no user string becomes SQL
text, and the local Prefect server listens on the loopback interface only."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import polars as pl
import pytest
from helpers.toll_testing import REPO, run_cli

from flows.config import load_settings
from flows.errors import ConfigError, TollError
from flows.s2_ingest.parsing import Parsed
from flows.warehouse.layout import MANIFEST as MANIFEST_DIR
from flows.warehouse.raw_store import read_manifest, store
from flows.s1_sources.catalogue import SourceFile, load_catalogue
from flows.warehouse.sql_names import quoted, string_literal

# --- names and paths from the catalogue -------------------------------------------------


def _catalogue(tmp_path: Path, name: str = "ok", local: object = "a/b.csv") -> Path:
    path = tmp_path / "catalogue.toml"
    path.write_text(
        f"[sources.{json.dumps(name)}]\n"
        'title = "t"\nformat = "mediazona_cumsum"\nlicence = "l"\n'
        f"[[sources.{json.dumps(name)}.files]]\n"
        f"local = {json.dumps(local)}\n"
        'url = "https://example.org/b.csv"\n'
    )
    return path


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "x; drop table raw_x", 'a"b', "raw x", "", "ä"]
)
def test_source_names_must_be_plain_identifiers(tmp_path, name: str) -> None:
    with pytest.raises(ConfigError, match="source name"):
        load_catalogue(_catalogue(tmp_path, name=name))


@pytest.mark.parametrize(
    "local", ["../../etc/passwd", "/etc/passwd", "a/../../b.csv", "a/..", "", "."]
)
def test_local_paths_cannot_leave_the_source_folder(tmp_path, local: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_catalogue(_catalogue(tmp_path, local=local))
    assert "source 'ok'" in str(info.value) and "without '..'" in str(info.value)


def test_encoded_dots_stay_literal_inside_the_source_folder(tmp_path) -> None:
    (spec,) = load_catalogue(_catalogue(tmp_path, local="%2e%2e/%2e%2e/etc/passwd"))["ok"].files
    settings = load_settings(source_dir=tmp_path / "sources", warehouse=tmp_path / "wh")
    read_from = Path(unquote(urlparse(spec.location(settings)).path))
    assert read_from.is_relative_to(settings.source_dir)
    assert read_from.name == "passwd" and "%2e%2e" in read_from.parts


@pytest.mark.parametrize(
    "text",
    [
        "not toml [",
        "[sources.a]\ntitle = 'x'\n",  # no files
        "[sources.a]\ntitle='t'\nformat='f'\nlicence='l'\n"
        "[[sources.a.files]]\nlocal='a.csv'\nurl='u'\nas_of='yesterday'\n",
        "[other]\n",
    ],
)
def test_malformed_catalogue_is_a_clear_error(tmp_path, text: str) -> None:
    path = tmp_path / "catalogue.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="source catalogue"):
        load_catalogue(path)


def test_cli_reports_a_bad_catalogue_without_traceback(tmp_path) -> None:
    done = run_cli(
        "sources", env={"TOLL_CATALOGUE": str(_catalogue(tmp_path, local="../../etc/passwd"))}
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "local path '../../etc/passwd'" in done.stderr


def test_raw_files_are_stored_under_the_warehouse(tmp_path) -> None:
    spec = SourceFile(source="ok", local="deep/er/file.csv", url="https://example.org/f")
    parsed = Parsed(rows=pl.DataFrame({"x": [1]}), rejected=_no_rejects())
    entry = store(tmp_path, spec, spec.url, b"x\n1\n", "ab" * 32, parsed, datetime.now(UTC))
    for stored in (entry.raw_path, entry.parquet_path):
        assert (tmp_path / stored).resolve().is_relative_to(tmp_path / "raw" / "ok")


def _no_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema={"source_row": pl.Int64, "reason": pl.String, "raw_row": pl.String})


@pytest.mark.parametrize("field", ["raw_path", "parquet_path", "rejected_path"])
@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "raw/../../x", "elsewhere/x"])
def test_an_edited_manifest_cannot_point_outside_raw(tmp_path, field: str, bad: str) -> None:
    spec = SourceFile(source="ok", local="f.csv", url="https://example.org/f")
    parsed = Parsed(rows=pl.DataFrame({"x": [1]}), rejected=_no_rejects())
    store(tmp_path, spec, spec.url, b"x\n1\n", "cd" * 32, parsed, datetime.now(UTC))
    (manifest,) = (tmp_path / MANIFEST_DIR).glob("*.json")
    entry = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**entry, field: bad}))
    with pytest.raises(TollError, match="expected a path under raw/"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("snapshot", ["../../etc", "20260101T000000Z/../..", "current", ""])
def test_rollback_accepts_only_published_snapshot_ids(tmp_path, snapshot: str) -> None:
    from flows.s5_publish.snapshots import rollback

    with pytest.raises(TollError, match="no published snapshot"):
        rollback(tmp_path, snapshot)


# --- SQL text ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ['x"; drop table t; --', "a b", "1x", "x'y", "", "raw_x;"])
def test_quoted_refuses_anything_but_a_plain_identifier(name: str) -> None:
    with pytest.raises(ConfigError, match="expected letters, digits and '_' only"):
        quoted(name)


@pytest.mark.parametrize("text", ["x'); drop table t; --", "it's \\' \\n", "Öl; 'a'' \"b\""])
def test_a_string_literal_comes_back_unchanged_and_runs_nothing(text: str) -> None:
    con = duckdb.connect()
    con.execute("create table t (v varchar)")
    con.execute(f"comment on table t is {string_literal(text)}")
    assert con.execute("select comment from duckdb_tables() where table_name = 't'").fetchall() == [
        (text,)
    ]
    with pytest.raises(ConfigError, match="NUL"):
        string_literal("a\x00b")


def test_values_travel_as_parameters() -> None:
    con = duckdb.connect()
    hostile = "x'); drop table t; --"
    con.execute("create table t (v varchar)")
    con.execute("insert into t values (?)", [hostile])
    assert con.execute("select v from t where v = ?", [hostile]).fetchall() == [(hostile,)]


SQL_CALLS = {"execute", "executemany", "sql", "query"}
SAFE_BUILDERS = {"quoted", "identifier", "key_json", "string_literal"}  # checked, escaped
# Interpolations into SQL text that are not built from checked identifiers, each reviewed:
REVIEWED = {
    ("flows/s3_build/models.py", "body"): "a model's own SQL from sql/*.sql: code, not input",
    ("flows/lineage/capture.py", "model.name"): "a model name, i.e. a file name under sql/ (code)",
    ("flows/lineage/capture.py", "upstream"): "checked with identifier() just before",
    ("flows/lineage/capture.py", "condition"): "a model's '-- rows from' comment (code), names quoted()",
    ("flows/s6_report/figures.py", "MIN_MONTHLY_KM2"): "a numeric module constant",
    ("flows/s4_gate/suites.py", "query"): "a suite's own SQL (expectations/, code); thresholds go in"
    " as typed, escaped literals (sql_literal)",
    ("flows/lineage/capture.py", "union"): "the per-model selects built just above (each run"
    " once on its own first), names quoted()",
    ("flows/s4_gate/quarantine.py", "THREADS"): "a numeric module constant",
    ("flows/s4_gate/quarantine.py", "query"): "Rows._select: quoted() names, SCHEMA's types and"
    " ? placeholders (the paths, the source and the limit go in as parameters)",
    ("flows/s4_gate/quarantine.py", "expression"): "Rows.json/table: quoted() names, an int width"
    " and the cells' SQL below",
    ("flows/s4_gate/quarantine.py", "widest"): "max(length()) of each cell's SQL (below)",
    ("flows/s4_gate/quarantine.py", "cell"): "the SQL of each printed cell: ROW_COLUMNS in"
    " flows/cli/app.py (code)",
    ("flows/s4_gate/failures.py", "query"): "a failed check's own select (suites.failing_query:"
    " a suite's SQL, or built from its columns with quoted names)",
    ("flows/warehouse/raw_tables.py", "ORIGIN"): "a module constant column name",
    ("flows/warehouse/raw_tables.py", "' union all by name '.join(selects)"): "selects built just above"
    " from the checked table name, ORIGIN and an int; the paths go in as a parameter",
}


def _safe(node: ast.AST, assigned: dict[str, list[ast.AST]], depth: int = 0) -> bool:
    """True when `node` can only produce checked identifiers, constants or placeholders."""
    if depth > 6:
        return False
    again = lambda n: _safe(n, assigned, depth + 1)  # noqa: E731
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(again(v.value) for v in node.values if isinstance(v, ast.FormattedValue))
    if isinstance(node, ast.IfExp):
        return again(node.body) and again(node.orelse)
    if isinstance(node, ast.BoolOp):
        return all(again(v) for v in node.values)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id in SAFE_BUILDERS
        if isinstance(node.func, ast.Attribute) and node.func.attr == "join":
            (items,) = node.args
            if isinstance(items, ast.GeneratorExp | ast.ListComp):
                return again(node.func.value) and again(items.elt)
        return False
    if isinstance(node, ast.Name) and node.id in assigned:
        return all(again(v) for v in assigned[node.id])
    return False


def _unsafe_interpolations() -> set[tuple[str, str]]:
    found = set()
    for path in sorted((REPO / "flows").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        module = path.relative_to(REPO).as_posix()
        for scope in ast.walk(ast.parse(source)):
            if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
                continue  # SQL runs inside functions; names are resolved per function
            assigned: dict[str, list[ast.AST]] = {}
            for node in ast.walk(scope):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            assigned.setdefault(target.id, []).append(node.value)
            for node in ast.walk(scope):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in SQL_CALLS
                    and node.args
                ):
                    continue
                text = node.args[0]
                texts = assigned.get(text.id, []) if isinstance(text, ast.Name) else [text]
                for candidate in texts:
                    if isinstance(candidate, ast.BinOp) or (
                        isinstance(candidate, ast.Call)
                        and isinstance(candidate.func, ast.Attribute)
                        and candidate.func.attr == "format"
                    ):
                        found.add((module, ast.get_source_segment(source, candidate)))
                    for part in ast.walk(candidate):
                        if isinstance(part, ast.FormattedValue) and not _safe(part.value, assigned):
                            found.add((module, ast.get_source_segment(source, part.value)))
    return found


def test_no_sql_text_is_pasted_from_unchecked_strings() -> None:
    """Every value pasted into SQL text is a checked identifier, a constant or reviewed code."""
    unreviewed = _unsafe_interpolations() - set(REVIEWED)
    assert unreviewed == set(), (
        "SQL text built from strings that are neither checked identifiers (quoted()/identifier())"
        " nor reviewed: pass values as parameters (?) instead, or review them in REVIEWED"
    )


def test_the_sql_scan_notices_a_pasted_string() -> None:
    tree = ast.parse("def f(con, name):\n    con.execute(f'select * from t where v = {name}')\n")
    call = tree.body[0].body[0].value
    (part,) = [p for p in ast.walk(call.args[0]) if isinstance(p, ast.FormattedValue)]
    assert not _safe(part.value, {})
    assert _safe(ast.parse("quoted(name)").body[0].value, {})


# --- the local Prefect server -------------------------------------------------------------


def test_prefect_server_host_defaults_to_loopback(monkeypatch) -> None:
    from prefect.settings.models.root import Settings as PrefectSettings

    for variable in ("PREFECT_SERVER_API_HOST", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(variable, raising=False)
    assert PrefectSettings().server.api.host == "127.0.0.1"


def test_nothing_in_the_project_binds_a_server_to_other_interfaces() -> None:
    files = [REPO / n for n in ("Makefile", "prefect.yaml", "README.md", "pyproject.toml")]
    files += sorted((REPO / "flows").rglob("*.py")) + sorted((REPO / ".ci").glob("*"))
    host = re.compile(r"(?:--host[ =]|PREFECT_SERVER_API_HOST\s*[=:]\s*)[\"']?([^\s\"']+)")
    for path in (p for p in files if p.is_file()):
        text = path.read_text(encoding="utf-8")
        assert "0.0.0.0" not in text, f"{path.name} binds to every interface"
        for found in host.findall(text):
            assert found in ("127.0.0.1", "localhost"), f"{path.name}: server host {found}"


def test_the_local_server_in_use_listens_on_loopback_only() -> None:
    """The server the tests (and an ephemeral toll run) talk to: bound to 127.0.0.1."""
    import prefect.settings

    url = urlparse(str(prefect.settings.PREFECT_API_URL.value()))
    assert url.hostname == "127.0.0.1"
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if Path(table).exists():
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, port = local.rsplit(":", 1)
                if state == "0A" and int(port, 16) == url.port:  # LISTEN
                    listening.add(address)
    assert listening == {"0100007F"}  # 127.0.0.1, and no other interface
