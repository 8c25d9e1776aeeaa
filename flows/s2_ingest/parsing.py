"""Shared parsing: bytes to string columns, then strict typing that quarantines bad rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from flows.errors import SourceFormatError

ROW = "source_row"  # 1-based record number in the file (header not counted)
# The longest real cell is about 550 characters (Bessudnov's links); far longer is corruption.
MAX_FIELD_CHARS = 10_000
SHOWN_CHARS = 80  # of an offending value, in a reason
# Above this share of rejected rows a file is not "a few bad rows": its format changed.
MAX_REJECTED_SHARE = 0.5
SHAPE = "__record_shape"  # why a CSV record does not fit the header, if it does not
CHUNK_ROWS = 100_000  # CSV records held as Python objects at a time

# Long cells are checked (MAX_FIELD_CHARS) after reading, with a reason naming the row.
csv.field_size_limit(2**31 - 1)

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
    """Read a CSV with every column as text (RFC 4180: quoted newlines survive).

    A record with more or fewer fields than the header (a line cut short, an unquoted
    delimiter) is kept with a `SHAPE` note, so that typing rejects it with that reason instead
    of reading the missing fields as empty.
    """
    text = decode_text(source, file, content)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] = []
    chunks: list[pl.DataFrame] = []
    records: list[list[str | None]] = []
    shapes: list[str | None] = []
    try:
        header = next(reader, [])
        duplicated = sorted({c for c in header if header.count(c) > 1})
        if duplicated:
            raise SourceFormatError(
                source, file, f"header repeats column(s) {duplicated}", "each column once"
            )
        check_columns(source, file, header, required)
        width = len(header)
        for record in reader:
            if not record:
                continue  # a blank line
            shapes.append(
                None
                if len(record) == width
                else f"record has {len(record)} field(s), expected {width} like the header"
                + (" (a line cut short?)" if len(record) < width else "")
            )
            # an empty cell is a missing value, as in every CSV reader toll used before
            records.append(([v if v != "" else None for v in record] + [None] * width)[:width])
            if len(records) == CHUNK_ROWS:
                # into Polars a chunk at a time: 2M records as Python strings would take GiBs
                chunks.append(_string_frame(header, records, shapes))
                records, shapes = [], []
    except csv.Error as exc:
        raise SourceFormatError(
            source, file, f"line {reader.line_num}", f"well-formed CSV ({exc})"
        ) from exc
    if records:
        chunks.append(_string_frame(header, records, shapes))
    if not chunks:
        raise SourceFormatError(source, file, "no data rows after the header", "at least one row")
    frame = pl.concat(chunks, rechunk=True) if len(chunks) > 1 else chunks[0]
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def _string_frame(
    header: list[str], records: list[list[str | None]], shapes: list[str | None]
) -> pl.DataFrame:
    columns = list(zip(*records, strict=True))
    return pl.DataFrame(
        {name: list(values) for name, values in zip(header, columns, strict=True)}
        | {SHAPE: shapes},
        schema={name: pl.String for name in header} | {SHAPE: pl.String},
    )


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
    # a blank cell is a missing value, whatever its whitespace
    text = pl.col(column).str.strip_chars().replace("", None)
    if kind == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    if kind == "intlike":
        number = text.cast(pl.Float64, strict=False)
        return pl.when(number == number.round(0)).then(number).cast(pl.Int64, strict=False)
    return text.cast(KINDS[kind], strict=False)


def _shown(raw: pl.Expr) -> pl.Expr:
    return (
        pl.when(raw.str.len_chars() > SHOWN_CHARS)
        .then(pl.concat_str(raw.str.slice(0, SHOWN_CHARS), pl.lit("...")))
        .otherwise(raw)
    )


def _clipped_json(row: dict) -> str:
    clipped = {
        k: v[:SHOWN_CHARS] + f"... ({len(v):,} characters)"
        if isinstance(v, str) and len(v) > MAX_FIELD_CHARS
        else v
        for k, v in row.items()
    }
    return json.dumps(clipped, ensure_ascii=False)


def type_columns(
    frame: pl.DataFrame,
    schema: dict[str, str],
    not_null: set[str] = frozenset(),
    bounds: dict[str, tuple[object, object]] | None = None,
) -> Parsed:
    """Cast string columns to `schema`; rows with a value that does not fit are rejected.

    A value fits when it has the declared type, is no longer than MAX_FIELD_CHARS, is present
    when required and lies within its `bounds` (inclusive) if any.
    """
    bounds = bounds or {}
    originals = list(schema)
    typed = frame.with_columns(_typed(c, k).alias(f"__typed_{c}") for c, k in schema.items())
    problems = []
    for column, kind in schema.items():
        raw = pl.col(column)
        value = pl.col(f"__typed_{column}")
        present = raw.is_not_null() & (raw.str.strip_chars() != "")
        bad_value = present & value.is_null()
        low, high = bounds.get(column, (None, None))
        outside = pl.lit(False)
        if low is not None:
            outside = outside | (value < low)
        if high is not None:
            outside = outside | (value > high)
        problems.append(
            pl.when(raw.str.len_chars() > MAX_FIELD_CHARS)
            .then(
                pl.format(
                    "{}: expected at most {} characters, got {}",
                    pl.lit(column),
                    pl.lit(f"{MAX_FIELD_CHARS:,}"),
                    raw.str.len_chars(),
                )
            )
            .when(bad_value)
            .then(pl.format("{}: expected {}, got '{}'", pl.lit(column), pl.lit(kind), _shown(raw)))
            .when(~present & pl.lit(column in not_null))
            .then(pl.lit(f"{column}: required value is missing"))
            .when(value.is_not_null() & outside)
            .then(
                pl.format(
                    "{}: expected {}..{}, got {}",
                    pl.lit(column),
                    pl.lit("" if low is None else str(low)),
                    pl.lit("" if high is None else str(high)),
                    value.cast(pl.String),
                )
            )
        )
    if SHAPE in frame.columns:
        problems.insert(0, pl.col(SHAPE))
    reason = pl.concat_str(problems, separator="; ", ignore_nulls=True)
    typed = typed.with_columns(pl.when(reason != "").then(reason).alias("reason"))
    bad = typed.filter(pl.col("reason").is_not_null())
    rejected = bad.select(
        ROW,
        "reason",
        pl.struct(originals).map_elements(_clipped_json, return_dtype=pl.String).alias("raw_row")
        if bad.height
        else pl.lit(None, pl.String).alias("raw_row"),
    )
    rows = typed.filter(pl.col("reason").is_null()).select(
        ROW, *[pl.col(f"__typed_{c}").alias(c) for c in originals]
    )
    return Parsed(rows=rows, rejected=rejected)


def check_rejected_share(source: str, file: str, parsed: Parsed) -> None:
    """A file most of whose rows are rejected changed format: an error, not a quarantine."""
    total = parsed.rows.height + parsed.rejected.height
    if total == 0 or parsed.rejected.height <= MAX_REJECTED_SHARE * total:
        return
    first = parsed.rejected.sort(ROW).row(0, named=True)
    raise SourceFormatError(
        source,
        file,
        f"{parsed.rejected.height:,} of {total:,} rows rejected (first: row {first[ROW]}, "
        f"{first['reason']})",
        "mostly rows of the declared types (did a column change type or format?)",
    )
