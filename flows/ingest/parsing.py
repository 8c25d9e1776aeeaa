"""Shared parsing: bytes to string columns, then strict typing that quarantines bad rows."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from flows.errors import SourceFormatError

ROW = "source_row"  # 1-based record number in the file (header not counted)

# Column kinds a source schema may declare.
KINDS = {
    "str": pl.String,
    "int": pl.Int64,
    "float": pl.Float64,
    "date": pl.Date,
    "intlike": pl.Int64,  # integer written as a float ("1985.0")
}


@dataclass(frozen=True)
class Parsed:
    rows: pl.DataFrame
    rejected: pl.DataFrame  # source_row, reason, raw_row (JSON of the original fields)


def decode_text(source: str, file: str, content: bytes) -> str:
    """UTF-8 with an optional BOM; anything else is an error naming the first bad byte."""
    if not content.strip():
        raise SourceFormatError(source, file, "the file is empty", "a header and data rows")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise SourceFormatError(
            source, file, f"line {line}, byte {exc.start}", "UTF-8 text (is it cp1251?)"
        ) from exc


def read_csv_strings(
    source: str, file: str, content: bytes, required: list[str], delimiter: str = ","
) -> pl.DataFrame:
    """Read a CSV with every column as text (a real parser: quoted newlines survive)."""
    text = decode_text(source, file, content)
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            infer_schema=False,
            separator=delimiter,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceFormatError(
            source, file, "CSV structure", f"well-formed CSV ({first})"
        ) from exc
    check_columns(source, file, frame.columns, required)
    if frame.height == 0:
        raise SourceFormatError(source, file, "no data rows after the header", "at least one row")
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def check_columns(source: str, file: str, found: list[str], required: list[str]) -> None:
    missing = [c for c in required if c not in found]
    if missing:
        raise SourceFormatError(
            source,
            file,
            f"header is missing column(s) {missing} (found {found})",
            f"columns {required}",
        )


def records_to_strings(
    source: str, file: str, records: object, required: list[str], optional: set[str] = frozenset()
) -> pl.DataFrame:
    """A JSON array of objects as string columns, one per required key."""
    if not isinstance(records, list) or not records:
        raise SourceFormatError(source, file, "top level", "a non-empty JSON array of objects")
    columns: dict[str, list[str | None]] = {key: [] for key in required}
    for position, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise SourceFormatError(source, file, f"record {position}", "a JSON object")
        for key in required:
            value = record.get(key)
            columns[key].append(None if value is None else str(value))
    frame = pl.DataFrame(columns, schema={k: pl.String for k in required})
    missing = [k for k in required if k not in optional and frame[k].null_count() == frame.height]
    if missing:
        raise SourceFormatError(source, file, f"key(s) {missing} absent in every record", "present")
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _typed(column: str, kind: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    if kind == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    if kind == "intlike":
        number = text.cast(pl.Float64, strict=False)
        return pl.when(number == number.round(0)).then(number).cast(pl.Int64, strict=False)
    return text.cast(KINDS[kind], strict=False)


def type_columns(
    frame: pl.DataFrame, schema: dict[str, str], not_null: set[str] = frozenset()
) -> Parsed:
    """Cast string columns to `schema`; rows with a value that does not fit are rejected."""
    originals = list(schema)
    typed = frame.with_columns(_typed(c, k).alias(f"__typed_{c}") for c, k in schema.items())
    problems = []
    for column, kind in schema.items():
        raw = pl.col(column)
        present = raw.is_not_null() & (raw.str.strip_chars() != "")
        bad_value = present & pl.col(f"__typed_{column}").is_null()
        problems.append(
            pl.when(bad_value)
            .then(pl.format("{}: expected {}, got '{}'", pl.lit(column), pl.lit(kind), raw))
            .when(~present & pl.lit(column in not_null))
            .then(pl.lit(f"{column}: required value is missing"))
        )
    reason = pl.concat_str(problems, separator="; ", ignore_nulls=True)
    typed = typed.with_columns(pl.when(reason != "").then(reason).alias("reason"))
    bad = typed.filter(pl.col("reason").is_not_null())
    rejected = bad.select(
        ROW,
        "reason",
        pl.struct(originals)
        .map_elements(lambda row: json.dumps(row, ensure_ascii=False), return_dtype=pl.String)
        .alias("raw_row")
        if bad.height
        else pl.lit(None, pl.String).alias("raw_row"),
    )
    rows = typed.filter(pl.col("reason").is_null()).select(
        ROW, *[pl.col(f"__typed_{c}").alias(c) for c in originals]
    )
    return Parsed(rows=rows, rejected=rejected)
