"""The SQL model runner: reads `sql/`, orders models by the tables they read, runs them.

`sql/macros/*.sql` run first. Then every `sql/<layer>/<model>.sql` is one model named after its
file; a model depends on every other model (or `raw_<source>` table) its SQL reads, as sqlglot
finds them (CTE names are not tables). Staging and intermediate models become views, marts
(`fct_*`, `dim_*`) tables; an intermediate read by several models becomes a table too, so that
it is computed once.

Each model opens with a header of `-- field: value` lines (a value continues on the following
`--` lines indented by 4 or more spaces):
  -- grain: what one row is                         (every model)
  -- key: the columns that identify a row           (every model)
  -- partition: the column a backfill replaces rows by (optional; default: week_start or date)
  -- rows from <model>: which upstream rows make a row (marts, for `toll explain`)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb

from flows.errors import ModelFailed, TollError, refused_write
from flows.warehouse.sql_names import quoted

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LAYERS = ("staging", "intermediate", "marts")
_FIELD = re.compile(r"^--\s*(grain|key|partition|rows from\s+[a-z_][a-z0-9_]*)\s*:\s*(.*)$")
_CONTINUED = re.compile(r"^--\s{4,}(\S.*)$")


@dataclass(frozen=True)
class Header:
    """A model's `-- field: value` header (see the module docstring)."""

    grain: str = ""
    keys: tuple[str, ...] = ()
    partition: str | None = None
    rows_from: dict[str, str] = field(default_factory=dict)


def parse_header(sql: str, name: str = "model") -> Header:
    """The header fields of a model's SQL, with continuation lines joined by one space."""
    fields: dict[str, str] = {}
    current = None
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        if match := _FIELD.match(line):
            current = " ".join(match.group(1).split())
            if current in fields:
                raise TollError(f"SQL model {name}: header field '{current}' given twice")
            fields[current] = match.group(2).strip()
        elif current is not None and (more := _CONTINUED.match(line)):
            fields[current] = f"{fields[current]} {more.group(1).strip()}"
        else:
            current = None  # prose after the fields
    rows_from = {
        k.split()[-1]: " ".join(v.split()) for k, v in fields.items() if k.startswith("rows from")
    }
    keys = tuple(k.strip() for k in fields.get("key", "").split(",") if k.strip())
    return Header(fields.get("grain", ""), keys, fields.get("partition"), rows_from)


def tables_read(sql: str, name: str = "model") -> set[str]:
    """The tables and views a query reads, CTEs excluded (sqlglot's table walk)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
    except SqlglotError as exc:
        raise TollError(f"SQL model {name}: cannot parse: {exc}") from None
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}


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

    @cached_property
    def header(self) -> Header:
        return parse_header(self.sql, self.path.name)

    @property
    def keys(self) -> list[str]:
        return list(self.header.keys)

    @property
    def grain(self) -> str:
        return self.header.grain


def discover(sql_dir: Path = SQL_DIR) -> dict[str, Model]:
    """Every model under sql/, with its dependencies on other models and raw tables."""
    files = {
        p.stem: (layer, p) for layer in LAYERS for p in sorted((sql_dir / layer).glob("*.sql"))
    }
    models: dict[str, Model] = {}
    for name, (layer, path) in files.items():
        sql = path.read_text(encoding="utf-8")
        read = tables_read(sql, path.name)
        deps = {n for n in read if n != name and (n in files or n.startswith("raw_"))}
        models[name] = Model(name, layer, path, sql, frozenset(deps))
    return models


def build_order(models: dict[str, Model]) -> list[Model]:
    graph = {name: {d for d in m.depends_on if d in models} for name, m in models.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise TollError(f"SQL models depend on each other in a cycle: {exc.args[1]}") from None
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
                raise TollError(f"model {model.name} reads {dep}, which no source provides")
        # a view is recomputed by every model reading it: an intermediate read by several
        # (the nowcast chain feeds two marts) is computed once, as a table of the work database
        shared = model.layer == "intermediate" and readers[model.name] > 1
        kind = "table" if model.published or shared else "view"
        body = model.sql.strip().rstrip(";")
        try:
            con.execute(f"create or replace {kind} {quoted(model.name, 'model')} as {body}")
        except duckdb.Error as exc:
            if refused_write(exc) is not None:
                raise  # a full disk, not the model's fault: the run says so
            # a check inside the SQL (an implausible map jump, say) is a message for the operator
            raise ModelFailed(f"SQL model {model.path.name} failed: {exc}") from exc
        if on_model is not None:
            on_model(model)
    return ordered
