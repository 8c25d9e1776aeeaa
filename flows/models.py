"""The SQL model runner: reads `sql/`, orders models by the names they mention, runs them.

`sql/macros/*.sql` run first. Then every `sql/<layer>/<model>.sql` is one model named after its
file; a model depends on every other model (or `raw_<source>` view) whose name it mentions.
Staging and intermediate models become views, marts (`fct_*`, `dim_*`) tables; an intermediate
read by several models becomes a table too, so that it is computed once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb

from flows.errors import ModelFailed
from flows.sql_names import quoted

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
LAYERS = ("staging", "intermediate", "marts")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_KEY_LINE = re.compile(r"^--\s*key:\s*(.+)$", re.M)
_GRAIN_LINE = re.compile(r"^--\s*grain:\s*(.+)$", re.M)


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    sql: str
    depends_on: frozenset[str]

    @property
    def published(self) -> bool:
        return self.layer == "marts"

    @property
    def keys(self) -> list[str]:
        found = _KEY_LINE.search(self.sql)
        return [k.strip() for k in found.group(1).split(",")] if found else []

    @property
    def grain(self) -> str:
        found = _GRAIN_LINE.search(self.sql)
        return found.group(1).strip() if found else ""


def _identifiers(sql: str) -> set[str]:
    return set(re.findall(r"\b[a-z_][a-z0-9_]*\b", _COMMENT.sub(" ", sql).lower()))


def discover(sql_dir: Path = SQL_DIR) -> dict[str, Model]:
    """Every model under sql/, with its dependencies on other models and raw tables."""
    files = {
        p.stem: (layer, p) for layer in LAYERS for p in sorted((sql_dir / layer).glob("*.sql"))
    }
    models: dict[str, Model] = {}
    for name, (layer, path) in files.items():
        sql = path.read_text(encoding="utf-8")
        words = _identifiers(sql)
        deps = {n for n in files if n != name and n in words}
        deps |= {w for w in words if w.startswith("raw_")}
        models[name] = Model(name, layer, path, sql, frozenset(deps))
    return models


def build_order(models: dict[str, Model]) -> list[Model]:
    graph = {name: {d for d in m.depends_on if d in models} for name, m in models.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ValueError(f"SQL models depend on each other in a cycle: {exc.args[1]}") from exc
    return [models[name] for name in order]


def upstream(models: dict[str, Model], name: str) -> list[str]:
    """Everything a model is built from, nearest first (models, then raw tables)."""
    seen: list[str] = []
    frontier = [name]
    while frontier:
        current = frontier.pop(0)
        for dep in sorted(models[current].depends_on if current in models else ()):
            if dep not in seen:
                seen.append(dep)
                frontier.append(dep)
    return seen


def run_macros(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> None:
    for path in sorted((sql_dir / "macros").glob("*.sql")):
        con.execute(path.read_text(encoding="utf-8"))


def run_models(
    con: duckdb.DuckDBPyConnection, models: dict[str, Model], on_model=None
) -> list[Model]:
    """Create every model in dependency order; returns them in that order."""
    ordered = build_order(models)
    readers = {name: sum(name in m.depends_on for m in models.values()) for name in models}
    for model in ordered:
        missing = {d for d in model.depends_on if d not in models and d.startswith("raw_")}
        for dep in missing:
            exists = con.execute(
                "select count(*) from information_schema.tables where table_name = ?", [dep]
            ).fetchall()[0][0]
            if not exists:
                raise ValueError(f"model {model.name} reads {dep}, which no source provides")
        # a view is recomputed by every model reading it: an intermediate read by several
        # (the nowcast chain feeds two marts) is computed once, as a table of the work database
        shared = model.layer == "intermediate" and readers[model.name] > 1
        kind = "table" if model.published or shared else "view"
        body = model.sql.strip().rstrip(";")
        try:
            con.execute(f"create or replace {kind} {quoted(model.name, 'model')} as {body}")
        except duckdb.Error as exc:
            # a check inside the SQL (an implausible map jump, say) is a message for the operator
            raise ModelFailed(f"SQL model {model.path.name} failed: {exc}") from exc
        if on_model is not None:
            on_model(model)
    return ordered
