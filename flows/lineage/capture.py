"""Lineage kept inside every snapshot: what each published column and row was computed from.

`_lineage.json` holds the model graph as the runner found it in `sql/` (each model's file, sha256,
dependencies, the settings it reads and, per output column, the upstream columns found by parsing
its SQL), the raw files in use (from the manifest), the result-affecting settings, the git commit
and the expectations of the publishing run. `_lineage_rows.parquet` counts, for every published
row, the rows of an upstream model (one per raw row) it was computed from, per raw file, following
the mart's `-- rows from <model>: <predicate>` lines.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flows.config import Settings
from flows.errors import ModelFailed
from flows.lineage import columns as tracer
from flows.lineage.columns import settings_read, trace
from flows.s1_sources.catalogue import load_catalogue
from flows.s3_build.models import SQL_DIR, Model
from flows.s4_gate.suites import Check
from flows.warehouse.layout import Warehouse
from flows.warehouse.raw_store import entries_in_use
from flows.warehouse.sql_names import identifier, quoted
from flows.warehouse.storage import write_atomic

LINEAGE = "_lineage.json"
LINEAGE_ROWS = "_lineage_rows.parquet"
REPO = SQL_DIR.parent
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def rows_from(model: Model) -> dict[str, str]:
    """The mart's `-- rows from <upstream>: <predicate>` lines: which upstream rows make a row."""
    return dict(model.header.rows_from)


def git_commit(repo: Path = REPO) -> str | None:
    """The project's commit, with `+dirty` when the worktree has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None  # not a checkout (an installed package): the toll version still identifies it
    return f"{head}+dirty" if status else head


def _schema(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> dict[str, dict[str, str]]:
    schema = {}
    for name in names:
        rows = con.execute(f"describe {quoted(name)}").fetchall()
        schema[name] = {row[0]: row[1] for row in rows}
    return schema


def column_sources(
    con: duckdb.DuckDBPyConnection, models: list[Model]
) -> dict[str, dict[str, dict]]:
    """Per model and output column: the upstream `model.column`s and settings it is computed from
    (flows/lineage/columns.py), traced here in this process."""
    return trace(*_trace_input(con, models))


def columns_in_background(
    con: duckdb.DuckDBPyConnection, models: list[Model]
) -> Callable[[], dict[str, dict[str, dict]]]:
    """Start `column_sources` in a child process (`python -m flows.lineage.columns`); returns a
    function giving its result (traced here instead if the child failed).

    A run starts it after the build and takes it at publish: sqlglot's tracing is pure Python
    (1.1 s on the real data, 1.4 s at 100x) and the gate in between leaves a core free. A trace
    of the same models and columns is read from `lineage_cache()` instead: the child took 3.5 s
    of CPU at 100x (py-spy), on a core the gate and the snapshot's draft were waiting for."""
    items, schema = _trace_input(con, models)
    cached = _cache_file(items, schema)
    if (known := _read_cached(cached)) is not None:
        return lambda: known
    child = subprocess.Popen(
        [sys.executable, "-m", "flows.lineage.columns"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    answer: dict[str, bytes] = {}

    def talk() -> None:
        answer["out"], answer["err"] = child.communicate(json.dumps([items, schema]).encode())

    thread = threading.Thread(target=talk, name="toll-column-lineage", daemon=True)
    thread.start()

    def result() -> dict[str, dict[str, dict]]:
        thread.join()
        if child.returncode == 0:
            found = json.loads(answer["out"])
            _keep_cached(cached, answer["out"])
            return found
        logging.getLogger(__name__).warning(
            "column lineage child exited %s (%s): traced here instead",
            child.returncode,
            answer.get("err", b"").decode(errors="replace").strip()[-300:],
        )
        return trace(items, schema)

    return result


def lineage_cache() -> Path:
    """Where traced column lineage is kept, named by the digest of what it was traced from: the
    models' SQL and columns, sqlglot's version and the tracer's code, never data (like Python's
    bytecode cache: the first run after a change to any of them traces again). Safe to delete;
    under `$XDG_CACHE_HOME/toll` (~/.cache/toll), beside the object-storage mirror."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "toll" / "lineage"


def _cache_file(items: list[dict], schema: dict[str, dict[str, str]]) -> Path:
    digest = hashlib.sha256(Path(tracer.__file__).read_bytes())
    digest.update(importlib.metadata.version("sqlglot").encode())
    digest.update(json.dumps([items, schema], sort_keys=True).encode())
    return lineage_cache() / f"{digest.hexdigest()}.json"


def _read_cached(path: Path) -> dict[str, dict[str, dict]] | None:
    try:
        found = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None  # not traced yet, or unreadable: traced again
    return found if isinstance(found, dict) else None


def _keep_cached(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, sync=False)
    except OSError:  # a read-only home costs the next run a trace, nothing else
        pass


def _trace_input(
    con: duckdb.DuckDBPyConnection, models: list[Model]
) -> tuple[list[dict], dict[str, dict[str, str]]]:
    names = {m.name for m in models}
    upstream_names = names | {d for m in models for d in m.depends_on if d.startswith("raw_")}
    items = [{"name": m.name, "sql": m.sql, "depends_on": sorted(m.depends_on)} for m in models]
    return items, _schema(con, sorted(upstream_names))


def raw_files(settings: Settings, warehouse: Warehouse) -> dict[str, dict]:
    """Per raw table: its source and the manifest entries of the files the build read."""
    found = {}
    for source in load_catalogue(settings.catalogue).values():
        entries = entries_in_use(warehouse, source, settings.as_of)
        found[f"raw_{source.name}"] = {
            "source": source.name,
            "title": source.title,
            "licence": source.licence,
            "files": [
                {k: v for k, v in asdict(e).items() if k not in ("parquet_path", "rejected_path")}
                for e in entries
            ],
        }
    return found


def build_lineage(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    warehouse: Warehouse,
    models: list[Model],
    checks: list[Check],
    run: dict | None = None,
    columns: dict[str, dict[str, dict]] | None = None,
) -> dict:
    """Everything `toll explain` and `toll diff` need, as one JSON-able document (`columns`:
    `column_sources`, when already traced)."""
    import hashlib

    columns = column_sources(con, models) if columns is None else columns
    described = {}
    for model in models:
        described[model.name] = {
            "layer": model.layer,
            "path": model.path.relative_to(REPO).as_posix(),
            "sha256": hashlib.sha256(model.sql.encode()).hexdigest(),
            "depends_on": sorted(model.depends_on),
            "published": model.published,
            "keys": model.keys,
            "grain": model.grain,
            "settings": settings_read(model.sql),
            "rows_from": rows_from(model),
            "columns": columns[model.name],
        }
    return {
        "format": 1,
        "git_commit": git_commit(),
        "run": run or {},
        "settings": settings.result_affecting(),
        "models": described,
        "raw": raw_files(settings, warehouse),
        "expectations": [asdict(c) for c in checks],
    }


def key_json(keys: list[str], alias: str, prefix: str = "") -> str:
    """SQL for a row's key as JSON text, e.g. {"week_start":"2024-08-05"}: one spelling."""
    fields = ", ".join(f"{quoted(k)} := {alias}.{quoted(prefix + k)}" for k in keys)
    return f"to_json(struct_pack({fields}))::varchar"


def row_counts(con: duckdb.DuckDBPyConnection, models: list[Model]) -> pa.Table:
    """For every published row: upstream rows (= raw rows) per raw file it was computed from."""
    parts = []
    for model in models:
        if not model.published or not model.keys:
            continue
        for upstream, predicate in rows_from(model).items():
            identifier(upstream, "upstream model")  # pasted into SQL below
            needed = list(dict.fromkeys([*model.keys, *_PLACEHOLDER.findall(predicate)]))
            # the published row's columns get a prefix so bare names in the predicate are the
            # upstream model's
            condition = _PLACEHOLDER.sub(lambda m: f"t.{quoted('__' + m.group(1))}", predicate)
            picked = ", ".join(f"{quoted(c)} as {quoted('__' + c)}" for c in needed)
            keys = ", ".join(f"t.{quoted('__' + k)}" for k in model.keys)
            # counted by the key's columns first, the key's JSON text made once per published
            # row after: made per joined row, fct_named_vintages at 100x (6.9 M joined rows,
            # 985 k counts) took 10.5 s of a 12 s step under load; counted first, 1.1 s
            sql = f"""
                select
                    '{model.name}' as "table",
                    {key_json(model.keys, "c", "__")} as "key",
                    '{upstream}' as "model",
                    c.file_sha256,
                    c."rows",
                from (
                    select {keys}, u.file_sha256, count(*)::bigint as "rows"
                    from (select {picked} from {quoted(model.name)}) as t
                    inner join {quoted(upstream)} as u on {condition}
                    group by all
                ) as c
            """
            try:
                con.sql(sql).limit(0).fetchall()
            except duckdb.Error as exc:
                raise ModelFailed(
                    f"{model.path.name}: '-- rows from {upstream}: {predicate}' failed: {exc}; "
                    f"expected a condition on columns of {upstream} and {model.name}"
                ) from exc
            parts.append(sql)
    schema = pa.schema(
        [
            ("table", pa.string()),
            ("key", pa.string()),
            ("model", pa.string()),
            ("file_sha256", pa.string()),
            ("rows", pa.int64()),
        ]
    )
    if not parts:
        return schema.empty_table()
    # one query, sorted by DuckDB (pyarrow's sort of 1.4 M rows at 100x: 1 s more, one core)
    union = " union all ".join(f"({p})" for p in parts)
    ordered = f'select * from ({union}) order by "table", "key", "model", file_sha256'
    return con.sql(ordered).to_arrow_table().cast(schema)


def write_lineage(
    folder: Path,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    warehouse: Warehouse,
    models: list[Model],
    checks: list[Check],
    run: dict | None = None,
    columns: dict[str, dict[str, dict]] | None = None,
) -> None:
    """Write `_lineage.json` into a snapshot still being written."""
    document = build_lineage(con, settings, warehouse, models, checks, run, columns)
    (folder / LINEAGE).write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")


def write_lineage_rows(folder: Path, con: duckdb.DuckDBPyConnection, models: list[Model]) -> None:
    """Write `_lineage_rows.parquet` (`row_counts`) into a snapshot still being written."""
    pq.write_table(row_counts(con, models), folder / LINEAGE_ROWS, compression="zstd")


def read_lineage(snapshot: Path) -> dict | None:
    path = snapshot / LINEAGE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def walk(lineage: dict, table: str, column: str, limit: int = 200) -> dict:
    """The tree of upstream columns of `table.column`, down to raw tables (`{node, path, from}`)."""
    models = lineage["models"]
    seen = 0

    def node(name: str, col: str, depth: int) -> dict:
        nonlocal seen
        seen += 1
        entry = {"node": f"{name}.{col}"}
        if name in models:
            entry["file"] = models[name]["path"]
            if col == "*":
                upstream = [f"{d}.*" for d in models[name]["depends_on"]]
            else:
                upstream = models[name]["columns"].get(col, {}).get("from", [])
        else:
            raw = lineage["raw"].get(name)
            entry["source"] = raw["source"] if raw else None
            upstream = []
        children = []
        for item in upstream:
            if seen >= limit or depth > 30:
                entry["truncated"] = True
                break
            up_name, _, up_col = item.rpartition(".")
            children.append(node(up_name, up_col, depth + 1))
        entry["from"] = children
        return entry

    return node(table, column, 0)


def flatten(tree: dict) -> list[dict]:
    nodes, stack = [], [tree]
    while stack:
        current = stack.pop()
        nodes.append(current)
        stack.extend(current["from"])
    return nodes


def reach(lineage: dict, table: str, column: str | None = None) -> dict[str, set[str]]:
    """Models, raw tables and settings a column (or the whole table) is computed from."""
    columns = [column] if column else list(lineage["models"][table]["columns"])
    models: set[str] = set()
    raws: set[str] = set()
    settings: set[str] = set()
    for col in columns:
        for item in flatten(walk(lineage, table, col)):
            name = item["node"].rpartition(".")[0]
            if name in lineage["models"]:
                models.add(name)
                spec = lineage["models"][name]
                col_here = item["node"].rpartition(".")[2]
                settings.update(spec["columns"].get(col_here, {}).get("settings", []))
                if col_here == "*":
                    settings.update(spec["settings"])
            else:
                raws.add(name)
    return {"models": models, "raw": raws, "settings": settings}
