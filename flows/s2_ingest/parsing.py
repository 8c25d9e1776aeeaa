"""Shared parsing: bytes to string columns, then strict typing that quarantines bad rows.

CSV files are read by native readers, never record by record in Python. Polars reads each file;
a file Polars cannot vouch for (it failed, or a record had fewer fields than the header, which
Polars pads) is read again by DuckDB's `read_csv` with `store_rejects`, which names every record
that does not fit. CPU time at 100x (a loaded machine): 510,000 named records (a quarter of
them) read in 6.1 s by Python's `csv` module, 0.3 s by Polars, 1.2 s by DuckDB; 500 Mediazona
vintages read and typed in 5.4 s one by one with `csv`, 1.0 s read by Polars, typed together.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from flows.errors import SourceFormatError

ROW = "source_row"  # 1-based record number in the file (header not counted)
FILE = "__file"  # position of the file among those parsed together
# The longest real cell is about 550 characters (Bessudnov's links); far longer is corruption.
MAX_FIELD_CHARS = 10_000
SHOWN_CHARS = 80  # of an offending value, in a reason
# Above this share of rejected rows a file is not "a few bad rows": its format changed.
MAX_REJECTED_SHARE = 0.5
SHAPE = "__record_shape"  # why a CSV record does not fit the header, if it does not
BOM = b"\xef\xbb\xbf"
UTF8_CHUNK = 1 << 24  # bytes checked at a time (a whole decoded copy of 2M records is 220 MB)
# DuckDB's kinds of rejected line that are a record of the wrong width: quarantined, not fatal
WIDTH_ERRORS = {"MISSING COLUMNS", "TOO MANY COLUMNS"}
BLANK_LINE = re.compile(rb"\n\r?\n")

# Python's `csv` module only re-reads a misfit record (or counts blank lines) for a reason: a
# long cell there is reported with the row, not refused.
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
    _check_not_empty(source, file, content)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise SourceFormatError(
            source, file, f"line {line}, byte {exc.start}", "UTF-8 text (is it cp1251?)"
        ) from exc


def _check_not_empty(source: str, file: str, content: bytes) -> None:
    if not content or content.isspace():
        raise SourceFormatError(source, file, "the file is empty", "a header and data rows")


def check_utf8(source: str, file: str, content: bytes) -> None:
    """`decode_text`'s check without keeping the decoded text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(content)
    try:
        for start in range(0, len(content), UTF8_CHUNK):
            decoder.decode(view[start : start + UTF8_CHUNK], final=start + UTF8_CHUNK >= len(view))
    except UnicodeDecodeError:
        decode_text(source, file, content)  # raises, naming the line and byte


def read_csv_strings(
    source: str, file: str, content: bytes, required: list[str], delimiter: str = ","
) -> pl.DataFrame:
    """The `required` columns as text, with `ROW` and a `SHAPE` note for a record with more or
    fewer fields than the header (a line cut short, an unquoted delimiter), so that typing
    rejects it with that reason instead of reading the missing fields as empty. RFC 4180:
    quoted newlines survive; a blank line is not a record; an empty cell is a missing value."""
    _check_not_empty(source, file, content)
    header = _header(source, file, content, delimiter)
    check_columns(source, file, header, required)
    frame = _read_natively(content, delimiter)
    if frame is None or frame.columns != header or not _fits(content, frame, header, delimiter):
        frame = _read_precisely(source, file, content, header, delimiter)
        row, shape = pl.col(ROW), pl.col(SHAPE)
    else:  # one select: per-call overhead is most of a small file's cost (5,000 vintages)
        row, shape = pl.int_range(1, pl.len() + 1), pl.lit(None, pl.String)
    if frame.height == 0:
        raise SourceFormatError(source, file, "no data rows after the header", "at least one row")
    return frame.select(
        row.cast(pl.Int64).alias(ROW),
        *[pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in required],
        shape.alias(SHAPE),
    )


def read_csv_strings_together(
    source: str, files: list[tuple[str, bytes]], required: list[str], delimiter: str = ","
) -> pl.DataFrame | None:
    """`read_csv_strings` of every file, concatenated with `FILE` (the file's position), read
    by one native read; None when any file needs the file-by-file reading (its checks and
    errors then name the file).

    One read, not one per file: 5,000 Mediazona vintages (6.9M records) took 7.3 s file by
    file, nearly all of it Polars' per-call cost (read, field count, select: 1.4 ms a file).
    Taken only for plain files: one header, no quotes, no CR, no blank line, each with data.
    Then a record's fields are its delimiters plus one, and the count over all of them shows
    a short record as `_fits` does for one file."""
    if not files:
        return None
    first = files[0][1]
    end = first.find(b"\n")
    if end <= 0 or first.startswith(BOM):
        return None
    head = first[: end + 1]
    bodies, records = [], []
    for _, content in files:
        if not content.startswith(head) or b'"' in content or b"\r" in content:
            return None
        body = content[end + 1 :].removesuffix(b"\n")
        if not body or b"\n\n" in body or body.endswith(b"\n"):
            return None
        bodies.append(body)
        records.append(body.count(b"\n") + 1)  # no quotes: every newline ends a record
    header = _header(source, files[0][0], first, delimiter)
    if FILE in header or any(c not in header for c in required):
        return None
    together = head + b"\n".join(bodies) + b"\n"
    frame = _read_natively(together, delimiter)  # None on bytes that are not UTF-8
    if frame is None or frame.columns != header or frame.height != sum(records):
        return None
    if together.count(delimiter.encode()) != (frame.height + 1) * (len(header) - 1):
        return None  # a record with fewer fields than the header (Polars pads it)
    # each record's file and row from the files' record counts, not a position pasted into
    # every line: at 100x (5,000 vintages, 6.9 M records) that copy of 151 MB and Polars'
    # reading of the extra column were 0.1 s of each 1,000 files, holding the GIL
    position = np.repeat(np.arange(len(files), dtype=np.int32), records)
    first_of_file = np.repeat(np.cumsum([0, *records[:-1]]), records)
    row = np.arange(1, frame.height + 1, dtype=np.int64) - first_of_file
    return frame.select(
        pl.Series(ROW, row),
        *[pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in required],
        pl.lit(None, pl.String).alias(SHAPE),
        pl.Series(FILE, position),
    )


def _header(source: str, file: str, content: bytes, delimiter: str) -> list[str]:
    end = content.find(b"\n")
    first = content[: end if end >= 0 else len(content)].removeprefix(BOM).rstrip(b"\r")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        decode_text(source, file, content)  # raises, naming the byte
        raise
    header = next(csv.reader([text], delimiter=delimiter), [])
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise SourceFormatError(
            source, file, f"header repeats column(s) {duplicated}", "each column once"
        )
    return header


def _read_natively(content: bytes, delimiter: str) -> pl.DataFrame | None:
    """Every column as text, or None where Polars finds the file malformed."""
    try:
        return pl.read_csv(
            content,
            separator=delimiter,
            quote_char='"',
            infer_schema=False,
            empty_string_is_null=False,
            raise_if_empty=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError:
        return None


def _fits(content: bytes, frame: pl.DataFrame, header: list[str], delimiter: str) -> bool:
    """Whether every record Polars read had exactly the header's fields.

    Polars refuses a record with too many fields but pads one with too few (it then looks like
    empty cells). So the delimiters are counted: those in the file, less those inside quoted
    cells (still in the values), must be `width - 1` per record and header; a short record or
    a blank line (read as a row of empty cells) has fewer."""
    quoted = [pl.col(c).str.count_matches(delimiter, literal=True).sum() for c in header]
    inside = frame.select(pl.sum_horizontal(quoted)).item()
    inside += sum(name.count(delimiter) for name in header)
    return content.count(delimiter.encode()) - inside == (frame.height + 1) * (len(header) - 1)


def _read_precisely(
    source: str, file: str, content: bytes, header: list[str], delimiter: str
) -> pl.DataFrame:
    """DuckDB reads the records that fit the header and lists every one that does not."""
    check_utf8(source, file, content)
    names = [f"c{i}" for i in range(len(header))]  # positional: any header text is safe
    con = duckdb.connect()
    try:
        relation = con.read_csv(
            io.BytesIO(content),
            header=True,
            auto_detect=False,
            delimiter=delimiter,
            quotechar='"',
            escapechar='"',
            columns=dict.fromkeys(names, "VARCHAR"),
            strict_mode=True,
            null_padding=False,
            store_rejects=True,
            rejects_table="toll_rejects",
            rejects_scan="toll_reject_scans",
            max_line_size=max(len(content), 1 << 21),
        )
        fitting = pl.from_arrow(relation.to_arrow_table())
        problems = con.execute(
            "select line, byte_position, error_type, csv_line, error_message"
            " from toll_rejects order by line, byte_position"
        ).fetchall()
    except duckdb.Error as exc:
        raise SourceFormatError(source, file, "the file", f"well-formed CSV ({exc})") from exc
    finally:
        con.close()
    fitting = fitting.rename(dict(zip(names, header, strict=True)))
    first: dict[int, tuple] = {}
    for line, *problem in problems:
        first.setdefault(line, tuple(problem))  # DuckDB may list one line more than once
    for position, kind, _, message in first.values():
        if kind not in WIDTH_ERRORS:  # an unterminated quote: nothing after it can be trusted
            line = content.count(b"\n", 0, position) + 1
            raise SourceFormatError(source, file, f"line {line}", f"well-formed CSV ({message})")
    if not first:
        return fitting.with_row_index(ROW, offset=1).with_columns(
            pl.lit(None, pl.String).alias(SHAPE)
        )
    # DuckDB numbers lines as records plus one for the header, blank lines included
    blanks = _blank_lines(content, delimiter) if BLANK_LINE.search(content) else []
    width = len(header)
    misfits: dict[str, list] = {ROW: [], SHAPE: []} | {c: [] for c in header}
    for line, (_, _, text, _) in first.items():
        misfits[ROW].append(line - 1 - sum(1 for b in blanks if b < line))
        fields = _fields(text, delimiter)
        misfits[SHAPE].append(
            f"record has {len(fields)} field(s), expected {width} like the header"
            + (" (a line cut short?)" if len(fields) < width else "")
        )
        for column, value in zip(header, [*fields, *[None] * width][:width], strict=True):
            misfits[column].append(value)
    misfit = pl.DataFrame(
        misfits, schema={ROW: pl.Int64, SHAPE: pl.String} | dict.fromkeys(header, pl.String)
    )
    total = fitting.height + misfit.height
    numbers = pl.Series(ROW, range(1, total + 1), pl.Int64)
    numbers = numbers.filter(~numbers.is_in(misfit[ROW].implode()))
    if numbers.len() != fitting.height:  # DuckDB and Python disagree on what a record is
        raise SourceFormatError(source, file, "record numbers", "well-formed CSV")
    return pl.concat(
        [fitting.with_columns(numbers, pl.lit(None, pl.String).alias(SHAPE)), misfit],
        how="diagonal",
    ).sort(ROW)


def _blank_lines(content: bytes, delimiter: str) -> list[int]:
    """Line numbers (DuckDB's: the header is 1) of the blank lines, which are not records."""
    text = io.StringIO(content.decode("utf-8-sig"), newline="")
    rows = csv.reader(text, delimiter=delimiter)
    return [number for number, row in enumerate(rows, start=1) if not row]


def _fields(text: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text.lstrip("\r\n"), newline=""), delimiter=delimiter))
    except (csv.Error, StopIteration):
        return text.strip("\r\n").split(delimiter)


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


def _text(column: str) -> pl.Expr:
    # a blank cell is a missing value, whatever its whitespace
    return pl.col(column).str.strip_chars().replace("", None)


def _typed(text: pl.Expr, kind: str) -> pl.Expr:
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
    # each cell stripped once, then typed: stripping in both the value and the presence test
    # cost the 2 M named records at 100x 0.2-0.3 s more
    texts = frame.with_columns(_text(c).alias(f"__text_{c}") for c in schema)
    typed = texts.with_columns(
        _typed(pl.col(f"__text_{c}"), k).alias(f"__typed_{c}") for c, k in schema.items()
    )
    # no cell has more bytes than MAX_FIELD_CHARS (the usual case): no cell has more characters,
    # so they are not counted (the named records' links: 0.06-0.09 s at 100x)
    long_cells = frame.select(
        pl.any_horizontal(pl.col(c).str.len_bytes().max() > MAX_FIELD_CHARS for c in schema)
    ).item()
    problems = []
    for column, kind in schema.items():
        raw = pl.col(column)
        value = pl.col(f"__typed_{column}")
        present = pl.col(f"__text_{column}").is_not_null()
        bad_value = present & value.is_null()
        low, high = bounds.get(column, (None, None))
        outside = pl.lit(False)
        if low is not None:
            outside = outside | (value < low)
        if high is not None:
            outside = outside | (value > high)
        too_long = raw.str.len_chars() > MAX_FIELD_CHARS if long_cells else pl.lit(False)
        problems.append(
            pl.when(too_long)
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
    batch = [FILE] if FILE in frame.columns else []  # files parsed together keep their position
    rejected = bad.select(
        ROW,
        *batch,
        "reason",
        pl.struct(originals).map_elements(_clipped_json, return_dtype=pl.String).alias("raw_row")
        if bad.height
        else pl.lit(None, pl.String).alias("raw_row"),
    )
    rows = typed.filter(pl.col("reason").is_null()).select(
        ROW, *batch, *[pl.col(f"__typed_{c}").alias(c) for c in originals]
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


def split(parsed: Parsed, files: int) -> list[Parsed]:
    """The rows and rejected rows of files parsed together (column `FILE`), file by file.

    Rows sorted by file are sliced, not copied: `partition_by` copied Mediazona's 6.9 M rows
    (5,000 vintages at 100x) once more, only for the store to concatenate them again (its
    parser sorts them by file; others are sorted here, keeping each file's order)."""
    rejected = parsed.rejected.partition_by(FILE, as_dict=True, include_key=False)
    none_rejected = parsed.rejected.drop(FILE).clear()
    rows = parsed.rows
    if not rows.get_column(FILE).is_sorted():
        rows = rows.sort(FILE, maintain_order=True)
    position = rows.get_column(FILE)
    rows = rows.drop(FILE)
    starts = position.search_sorted(pl.Series(range(files + 1), dtype=position.dtype))
    return [
        Parsed(
            rows=rows.slice(starts[i], starts[i + 1] - starts[i]),
            rejected=rejected.get((i,), none_rejected),
        )
        for i in range(files)
    ]
