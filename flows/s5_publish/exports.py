"""What travels with a snapshot's tables: column docs, CSV copies, licences and citation.

- each column's meaning and unit (`sql/marts/<model>.columns.toml`) as Parquet field metadata
  and as `COMMENT ON` in `toll.duckdb`;
- `<table>.csv` beside each `<table>.parquet`, for tools that read no Parquet;
- `LICENSES.md` / `licenses.json`: each table's licence and obligations, from its inputs;
- `CITATION.cff` and `CITATION.txt` naming the snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from flows.s1_sources.catalogue import Source
from flows.s1_sources.terms import UNLICENSED, Terms
from flows.s3_build.column_docs import TableDoc, with_descriptions
from flows.s3_build.models import Model, upstream
from flows.s5_publish.licences import (
    SourceCredit,
    citation_cff,
    citation_text,
    licences_json,
    licences_markdown,
    table_licence,
)
from flows.warehouse.sql_names import quoted, string_literal

LICENSES_MD = "LICENSES.md"
LICENSES_JSON = "licenses.json"
CITATION_CFF = "CITATION.cff"
CITATION_TXT = "CITATION.txt"
RAW_PREFIX = "raw_"


def described(table: pa.Table, doc: TableDoc | None) -> pa.Table:
    return table if doc is None else with_descriptions(table, doc)


def comment_on(database: duckdb.DuckDBPyConnection, name: str, doc: TableDoc | None) -> None:
    """The table's and each documented column's description as DuckDB comments."""
    if doc is None:
        return
    table = quoted(name, "published table")
    database.execute(f"comment on table {table} is {string_literal(doc.description)}")
    present = {
        r[0]
        for r in database.execute(
            "select column_name from duckdb_columns() where table_name = ?", [name]
        ).fetchall()
    }
    for column, text in doc.columns.items():
        if column in present:
            target = f"{table}.{quoted(column, f'{name} column')}"
            database.execute(f"comment on column {target} is {string_literal(text.text)}")


def write_csv(database: duckdb.DuckDBPyConnection, name: str, folder: Path) -> None:
    """`<name>.csv` (UTF-8, header, comma) of the published table, in its published order."""
    database.sql(f"select * from {quoted(name, 'published table')}").write_csv(
        str(folder / f"{name}.csv")
    )


def source_terms(source: Source | None, name: str) -> list[Terms]:
    if source is None or not source.terms:
        # a source the catalogue gives no terms for is flagged like an unlicensed one
        return [Terms(UNLICENSED, source.title if source else name, note="no terms declared")]
    return list(source.terms)


def table_sources(models: Iterable[Model], table: str) -> list[str]:
    """The catalogue sources a table is built from (its raw_<source> tables, transitively)."""
    by_name = {m.name: m for m in models}
    return sorted(
        d.removeprefix(RAW_PREFIX) for d in upstream(by_name, table) if d.startswith(RAW_PREFIX)
    )


def write_licences(
    folder: Path,
    snapshot: str,
    models: list[Model],
    tables: Iterable[str],
    catalogue: Mapping[str, Source],
) -> None:
    """LICENSES.md, licenses.json, CITATION.cff and CITATION.txt of the snapshot in `folder`."""
    statements = []
    used: dict[str, SourceCredit] = {}
    for table in sorted(tables):
        inputs = {s: source_terms(catalogue.get(s), s) for s in table_sources(models, table)}
        statements.append(table_licence(table, inputs))
        for name, terms in inputs.items():
            title = catalogue[name].title if name in catalogue else name
            used.setdefault(name, SourceCredit(name, title, terms))
    credits = [used[name] for name in catalogue if name in used] + [
        used[name] for name in sorted(used) if name not in catalogue
    ]
    (folder / LICENSES_MD).write_text(licences_markdown(snapshot, statements), encoding="utf-8")
    (folder / LICENSES_JSON).write_text(
        json.dumps(licences_json(snapshot, statements), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    (folder / CITATION_CFF).write_text(citation_cff(snapshot, credits), encoding="utf-8")
    (folder / CITATION_TXT).write_text(citation_text(snapshot, credits) + "\n", encoding="utf-8")
