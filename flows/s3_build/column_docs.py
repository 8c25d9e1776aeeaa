"""What each published table and column means, and its unit: `sql/marts/<model>.columns.toml`.

Written once next to the model; the same text becomes COMMENT ON in `toll.duckdb`, field
metadata in each Parquet file, `docs/tables.md` and the Data Docs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from flows.errors import ConfigError

MARTS_DIR = Path(__file__).resolve().parents[2] / "sql" / "marts"
SUFFIX = ".columns.toml"
COLUMN_FIELDS = ("description", "unit")


@dataclass(frozen=True)
class ColumnDoc:
    description: str
    unit: str

    @property
    def text(self) -> str:
        """One line for a comment or a field description: meaning, then unit."""
        return f"{self.description} Unit: {self.unit}."


@dataclass(frozen=True)
class TableDoc:
    name: str
    description: str
    columns: dict[str, ColumnDoc]
    path: Path

    def undocumented(self, columns: Iterable[str]) -> list[str]:
        return [c for c in columns if c not in self.columns]

    def stale(self, columns: Iterable[str]) -> list[str]:
        """Documented columns the table does not have (renamed or dropped)."""
        present = set(columns)
        return [c for c in self.columns if c not in present]


def _text(value: object, path: Path, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"column docs {path.name}: {where}: expected a non-empty string")
    return value.strip()


def load_table_doc(path: Path) -> TableDoc:
    """One `<model>.columns.toml`; a clear error naming the file and field when it is malformed."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"column docs {path.name}: cannot read ({exc})") from None
    extra = set(raw) - {"table", "columns"}
    if extra:
        raise ConfigError(
            f"column docs {path.name}: unknown key(s) {sorted(extra)}: expected table, columns"
        )
    description = _text(raw.get("table"), path, "table")
    entries = raw.get("columns")
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"column docs {path.name}: expected a [columns.<name>] table per column")
    columns = {}
    for column, entry in entries.items():
        if not isinstance(entry, dict) or set(entry) != set(COLUMN_FIELDS):
            found = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise ConfigError(
                f"column docs {path.name}: column {column!r}: expected exactly "
                f"{list(COLUMN_FIELDS)}, found {found}"
            )
        columns[column] = ColumnDoc(
            description=_text(entry["description"], path, f"column {column!r} description"),
            unit=_text(entry["unit"], path, f"column {column!r} unit"),
        )
    name = path.name.removesuffix(SUFFIX)
    return TableDoc(name=name, description=description, columns=columns, path=path)


def load_table_docs(marts_dir: Path = MARTS_DIR) -> dict[str, TableDoc]:
    """Every `<model>.columns.toml` under `marts_dir`, by model name."""
    return {
        doc.name: doc for doc in (load_table_doc(p) for p in sorted(marts_dir.glob(f"*{SUFFIX}")))
    }


def with_descriptions(table: pa.Table, doc: TableDoc) -> pa.Table:
    """The same data with each field's description and unit (and the table's) in its schema.

    Metadata is plain text from the docs file, so the Parquet bytes stay the same across reruns.
    """
    fields = [
        field.with_metadata(
            {"description": doc.columns[field.name].text, "unit": doc.columns[field.name].unit}
        )
        if field.name in doc.columns
        else field
        for field in table.schema
    ]
    schema = pa.schema(fields, metadata={"description": doc.description})
    return table.cast(schema)
