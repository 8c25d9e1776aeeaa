"""Lineage kept inside every snapshot: what each published column and row was computed from.

`_lineage.json` holds the model graph as the runner found it in `sql/` (each model's file, sha256,
dependencies, the settings it reads and, per output column, the upstream columns found by parsing
its SQL), the raw files in use (from the manifest), the result-affecting settings, the git commit
and the expectations of the publishing run. `_lineage_rows.parquet` counts, for every published
row, the rows of an upstream model (one per raw row) it was computed from, per raw file, following
the mart's `-- rows from <model>: <predicate>` lines.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flows.config import Settings
from flows.errors import ModelFailed
from flows.s1_sources.catalogue import load_catalogue
from flows.s3_build.models import SQL_DIR, Model
from flows.s4_gate.suites import Check
from flows.warehouse.layout import Warehouse
from flows.warehouse.raw_store import entries_in_use
from flows.warehouse.sql_names import identifier, quoted

LINEAGE = "_lineage.json"
LINEAGE_ROWS = "_lineage_rows.parquet"
REPO = SQL_DIR.parent
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_VARIABLE = re.compile(r"getvariable\(\s*'([a-z_][a-z0-9_]*)'\s*\)", re.I)


def rows_from(model: Model) -> dict[str, str]:
    """The mart's `-- rows from <upstream>: <predicate>` lines: which upstream rows make a row."""
    return dict(model.header.rows_from)


def settings_read(sql: str) -> list[str]:
    return sorted({name.lower() for name in _VARIABLE.findall(sql)})


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
    """Per model and output column: the upstream `model.column`s and settings it is computed from.

    Found by parsing each model's SQL (sqlglot). A value the parser cannot trace to a column (a
    count(*) in a CTE) depends on every model that CTE reads (`model.*`); a value from a table
    function, or any column of a model it cannot parse, on every upstream of the model.
    """
    import sqlglot
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import lineage

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    names = {m.name for m in models}
    upstream_names = names | {d for m in models for d in m.depends_on if d.startswith("raw_")}
    schema = _schema(con, sorted(upstream_names))
    found: dict[str, dict[str, dict]] = {}
    for model in models:
        fallback = sorted(f"{d}.*" for d in model.depends_on)
        try:
            nodes = lineage(None, model.sql, schema=schema, dialect="duckdb")
            ctes = _ctes(sqlglot.parse_one(model.sql, dialect="duckdb"))
        except (SqlglotError, ValueError, KeyError, RecursionError):
            nodes, ctes = {}, {}
        columns: dict[str, dict] = {}
        reads_settings = bool(settings_read(model.sql))
        for column in schema[model.name]:
            node = nodes.get(column)
            if node is None:
                columns[column] = {"from": fallback, "settings": settings_read(model.sql)}
                continue
            upstream, settings, untraced = set(), set(), False
            for item in node.walk():
                if reads_settings:
                    settings.update(settings_read(item.expression.sql(dialect="duckdb")))
                if item.downstream:
                    continue
                table, _, name = item.name.rpartition(".")
                if table in upstream_names:
                    upstream.add(f"{table}.{name.strip(chr(34))}")
                elif table in ctes:
                    reads = _tables_read(table, ctes, set())
                    upstream.update(f"{r}.*" for r in reads if r in upstream_names)
                elif not item.name.replace(".", "").isdigit():
                    untraced = True  # e.g. generated by range(): its bounds come from upstream
            if untraced and not upstream:
                upstream = set(fallback)
            columns[column] = {"from": sorted(upstream), "settings": sorted(settings)}
        found[model.name] = columns
    return found


def _ctes(tree) -> dict:
    from sqlglot import exp

    return {cte.alias: cte.this for cte in tree.find_all(exp.CTE)}


def _tables_read(cte: str, ctes: dict, seen: set[str]) -> set[str]:
    """The tables a CTE reads, through the CTEs it reads."""
    from sqlglot import exp

    seen.add(cte)
    tables: set[str] = set()
    for table in ctes[cte].find_all(exp.Table):
        if table.name in ctes:
            if table.name not in seen:
                tables |= _tables_read(table.name, ctes, seen)
        elif table.name:
            tables.add(table.name)
    return tables


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
) -> dict:
    """Everything `toll explain` and `toll diff` need, as one JSON-able document."""
    import hashlib

    columns = column_sources(con, models)
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
) -> None:
    """Write `_lineage.json` and `_lineage_rows.parquet` into a snapshot still being written."""
    document = build_lineage(con, settings, warehouse, models, checks, run)
    (folder / LINEAGE).write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
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
