"""The quality gate: Great Expectations suites from `expectations/`, pushed down to DuckDB SQL.

A suite is `expectations/<suite>.json` (its table, layer and column expectations, GX's own
format) plus one file per SQL check in `expectations/<suite>/<check>.sql`: a header of
`-- field: value` lines (a value continues on `--` lines indented by 4 or more spaces), then
the query, which selects the rows that break the check (`{batch}` is the suite's table):
  -- severity: error | warning        (`error` blocks publish, `warning` is reported)
  -- check: the file's name           (a short name of what is checked)
  -- description: what it guarantees, and why
  -- column: the column a failing row is quarantined by (optional)
`load_suites` assembles both into GX suites: the JSON expectations, then the SQL checks as
`unexpected_rows_expectation`s in file-name order.

Thresholds come from settings (`gate_parameters`), never from the suites: column bounds use GX
suite parameters (`{"$PARAMETER": name}`), SQL checks name them as `$name`, substituted as SQL
literals before GX sees the query.

A suite validates the table named by its `meta.table` (default: the suite's name). Suites of the
raw and staging layers (`meta.layer`) also return their failing rows, by `file_sha256` and
`source_row`, for the quarantine.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from flows.errors import SuiteError
from flows.warehouse.sql_names import quoted

EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
SEVERITIES = ("error", "warning")
ROW_LEVEL_LAYERS = ("raw", "staging")
LINEAGE = ("file_sha256", "source_row")
_PARAM = re.compile(r"\$([a-z][a-z0-9_]*)")
SQL_CHECK = "unexpected_rows_expectation"
# the type GX runs SQL checks as (gx_counted.py: the count only, no rows fetched)
COUNTED_CHECK = "unexpected_rows_count"
SQL_HEADER = ("severity", "check", "description", "column")  # `column` is optional
_FIELD = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*)$")
_CONTINUED = re.compile(r"^--\s{4,}(\S.*)$")
# GX's BASIC results (counts and percentages) with no sample of unexpected values: SUMMARY's
# samples and index lists cost a query and Python per column expectation, passing or not
# (100x gate alone 4.1-4.5 s in SUMMARY, 2.9 s like this, 3 runs each). A failed check's
# sample is toll's own (`sample_unexpected`), from the query that selects its rows.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
SAMPLE_SIZE = 20  # GX's default partial_unexpected_count


@dataclass(frozen=True)
class Check:
    suite: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    unexpected: int | None
    detail: str
    description: str = ""
    layer: str = ""
    name: str = ""  # meta.check: a short name of what is checked
    origin: str = ""  # the source and raw files (with sha256) of the failing rows

    def describe(self) -> str:
        where = f"{self.suite}.{self.column}" if self.column else self.suite
        what = f"{self.expectation} {self.name}".strip()
        what = f"{what} ({self.description})" if self.description else what
        count = f" ({self.unexpected} unexpected rows)" if self.unexpected else ""
        told = "; ".join(part for part in (self.origin, self.detail) if part)
        return f"{where}: {what}{count} {told}".rstrip()


def check_key(check: Check) -> tuple[str, str, str, str | None]:
    """One check of a suite (an expectation type may appear once per column or name)."""
    return (check.suite, check.expectation, check.name, check.column)


@dataclass
class GateResult:
    """Checks, GX validation results (for Data Docs) and failing raw/staging rows."""

    checks: list[Check] = field(default_factory=list)
    results: list = field(default_factory=list)
    suites: list = field(default_factory=list)
    failing_rows: pl.DataFrame | None = None
    # per failed check (`check_key`): the SQL selecting every one of its failing rows
    selects: dict[tuple, str] = field(default_factory=dict)

    def add(self, other: GateResult) -> None:
        self.checks += other.checks
        self.results += other.results
        self.suites += other.suites
        self.selects.update(other.selects)


def load_suites(folder: Path = EXPECTATIONS_DIR) -> dict[str, dict]:
    """Every suite in `folder`: its JSON expectations, then its SQL checks (by file name)."""
    suites = {}
    for path in sorted(folder.glob("*.json")):
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SuiteError(f"suite {path.name}: not valid JSON: {exc}") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("expectations"), list):
            raise SuiteError(f"suite {path.name}: expected an object with an 'expectations' list")
        checks = sorted((folder / path.stem).glob("*.sql"))
        spec["expectations"] += [read_sql_check(p) for p in checks]
        suites[path.stem] = spec
    folders = (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for orphan in sorted(p for p in folders if p.name not in suites):
        raise SuiteError(
            f"SQL checks in {orphan.name}/ belong to no suite: expected {orphan.name}.json "
            "(its table and layer) beside the folder"
        )
    return suites


def parse_sql_check(text: str, name: str = "check") -> tuple[dict[str, str], str]:
    """A SQL check's header fields (continuation lines joined by one space) and its query."""
    fields: dict[str, str] = {}
    current = None
    lines = text.splitlines()
    body = len(lines)
    for number, line in enumerate(lines):
        if not line.startswith("--"):
            body = number
            break
        if current is not None and (more := _CONTINUED.match(line)):
            fields[current] = f"{fields[current]} {more.group(1).strip()}"
        elif match := _FIELD.match(line):
            current = match.group(1)
            if current not in SQL_HEADER:
                raise SuiteError(
                    f"SQL check {name}: unknown header field '{current}' "
                    f"(expected one of {', '.join(SQL_HEADER)})"
                )
            if current in fields:
                raise SuiteError(f"SQL check {name}: header field '{current}' given twice")
            fields[current] = match.group(2).strip()
        else:
            raise SuiteError(
                f"SQL check {name}, line {number + 1}: expected a '-- field: value' header line "
                f"or a continuation indented by 4 spaces, got {line!r}"
            )
    return fields, "\n".join(lines[body:]).strip()


def read_sql_check(path: Path) -> dict:
    """One `expectations/<suite>/<check>.sql` as the GX expectation it stands for."""
    name = f"{path.parent.name}/{path.name}"
    fields, query = parse_sql_check(path.read_text(encoding="utf-8"), name)
    missing = [f for f in ("severity", "check", "description") if not fields.get(f)]
    if missing:
        raise SuiteError(f"SQL check {name}: header without {', '.join(missing)}")
    if fields["severity"] not in SEVERITIES:
        raise SuiteError(
            f"SQL check {name}: severity '{fields['severity']}', expected error or warning"
        )
    if fields["check"] != path.stem:
        raise SuiteError(f"SQL check {name}: check '{fields['check']}', expected {path.stem}")
    if not query:
        raise SuiteError(f"SQL check {name}: no query after the header")
    meta = {"severity": fields["severity"], "check": fields["check"]}
    if fields.get("column"):
        meta["column"] = fields["column"]
    return {
        "type": SQL_CHECK,
        "kwargs": {"unexpected_rows_query": query},
        "meta": meta,
        "description": fields["description"],
    }


def suite_table(name: str, spec: dict) -> str:
    return (spec.get("meta") or {}).get("table", name)


def sql_literal(value: object) -> str:
    """A threshold as SQL text (only numbers, dates, strings and lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"timestamp '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"date '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise SuiteError(
        f"gate parameter of type {type(value).__name__} cannot go into SQL: expected a number, "
        "date, string or a list of them"
    )


def render_query(query: str, parameters: dict[str, object]) -> str:
    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in parameters:
            raise SuiteError(
                f"a SQL check reads gate parameter ${name}, which is not set: expected one of "
                f"{', '.join('$' + p for p in sorted(parameters))} (see gate_parameters)"
            )
        return sql_literal(parameters[name])

    return _PARAM.sub(substitute, query)


def _as_datetime(value: object) -> object:
    # Date bounds are compared as timestamps: GX binds strings as text otherwise.
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return datetime.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time())
    return value


def _prepare(spec: dict, parameters: dict[str, object]) -> dict:
    spec = json.loads(json.dumps(spec))
    for expectation in spec["expectations"]:
        kwargs = expectation["kwargs"]
        for bound in ("min_value", "max_value"):
            if bound in kwargs:
                kwargs[bound] = _as_datetime(kwargs[bound])
        if isinstance(kwargs.get("unexpected_rows_query"), str):
            kwargs["unexpected_rows_query"] = render_query(
                kwargs["unexpected_rows_query"], parameters
            )
    return spec


def _counted(spec: dict) -> dict:
    """The spec with its SQL checks as `UnexpectedRowsCount`s (gx_counted.py)."""
    for expectation in spec["expectations"]:
        if expectation["type"] == SQL_CHECK:
            expectation["type"] = COUNTED_CHECK
    return spec


def expectation_type(config) -> str:
    """An expectation's type as the suites name it (a SQL check runs as COUNTED_CHECK)."""
    return SQL_CHECK if config.type == COUNTED_CHECK else config.type


def run_gate(
    con: duckdb.DuckDBPyConnection,
    parameters: dict[str, object],
    suites: dict[str, dict] | None = None,
) -> list[Check]:
    """Validate every suite against its table; the checks only (see `validate`)."""
    return validate(con, parameters, suites).checks


def quiet_great_expectations() -> None:
    """Only GX's warnings reach a run's output: GX sets some of its own loggers to INFO."""
    for name in list(logging.root.manager.loggerDict):
        if name == "great_expectations" or name.startswith("great_expectations."):
            logging.getLogger(name).setLevel(logging.WARNING)


def validate(
    con: duckdb.DuckDBPyConnection,
    parameters: dict[str, object],
    suites: dict[str, dict] | None = None,
) -> GateResult:
    """Validate every suite on `con` with GX's SQL backend; collect failing raw/staging rows."""
    import great_expectations as gx  # slow import: only where validation runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from flows.s4_gate.gx_counted import UnexpectedRowsCount  # noqa: F401 (registers the type)
    from flows.s4_gate.gx_duckdb import WHOLE, add_duckdb_datasource

    quiet_great_expectations()
    suites = load_suites() if suites is None else suites
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    gx_params = {k: _as_datetime(v) for k, v in parameters.items()}
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assets = {n: t for n, s in suites.items() if (t := suite_table(n, s)) in tables}
    datasource, held = add_duckdb_datasource(context, con, assets)
    outcome = GateResult()
    failing: list[pl.DataFrame] = []
    try:
        for name, spec in suites.items():
            table = suite_table(name, spec)
            layer = (spec.get("meta") or {}).get("layer", "")
            if table not in tables:
                outcome.checks.append(
                    Check(name, "table_exists", None, "error", False, None, f"[no table {table}]")
                )
                continue
            suite = gx.ExpectationSuite(**_counted(_prepare(spec, parameters)))
            batch = datasource.get_asset(name).get_batch_definition(WHOLE).get_batch()
            result = batch.validate(
                suite, expectation_parameters=gx_params, result_format=RESULT_FORMAT
            )
            outcome.results.append(result)
            outcome.suites.append(suite)
            for item in result.results:
                check = _check(name, layer, item)
                computed = not check.detail  # else GX could not compute it: no rows to show
                query = None
                if not check.success and computed:
                    query = failing_query(table, item.expectation_config, gx_params)
                if query is not None:
                    outcome.selects[check_key(check)] = query
                    column = check.column if check.expectation != SQL_CHECK else None
                    shown = first_rows(con, query, column)
                    check = replace(check, detail=shown) if shown else check
                    sample_unexpected(con, query, item)
                outcome.checks.append(check)
                if not check.success and layer in ROW_LEVEL_LAYERS and computed:
                    rows = failing_rows(con, table, item.expectation_config, gx_params)
                    if rows is not None and rows.height:
                        failing.append(rows.with_columns(pl.lit(name).alias("suite")))
    finally:
        held.close()
    outcome.failing_rows = pl.concat(failing, how="diagonal_relaxed") if failing else None
    return outcome


def first_rows(
    con: duckdb.DuckDBPyConnection, query: str, column: str | None = None, limit: int = 5
) -> str:
    """The first rows a failed check selects, as `column=value` text for its message: the keys
    and the old and new values, so the operator need not dig. For a column check on a raw
    table, only the row's position, the column and the file (the rest is the whole record)."""
    try:
        relation = con.sql(query)
        if column and column in relation.columns:
            kept = [c for c in ("source_row", column, "file_sha256") if c in relation.columns]
            relation = relation.select(*(f'"{c}"' for c in kept))
        rows = relation.limit(limit).fetchall()
    except duckdb.Error:
        return ""

    def shown(name: str, value: object) -> str:
        # the origin names each file's whole sha256; a prefix tells the rows apart
        if name == "file_sha256" and isinstance(value, str):
            return f"{name}={value[:12]}"
        return f"{'row' if name == 'source_row' else name}={value}"

    # `source` is said once, with its files, by the failure's origin (failures.py)
    text = [
        "; ".join(shown(c, v) for c, v in zip(relation.columns, row, strict=True) if c != "source")
        for row in rows
    ]
    return ("first rows: " + " | ".join(text)) if text else ""


def sample_unexpected(con: duckdb.DuckDBPyConnection, query: str, item) -> None:
    """Up to `SAMPLE_SIZE` unexpected values of a failed column expectation, in its GX result
    as `partial_unexpected_list` (what Data Docs shows as its sample)."""
    kwargs = item.expectation_config.kwargs
    columns = kwargs.get("column_list") or ([kwargs["column"]] if kwargs.get("column") else [])
    if not columns or item.result is None:
        return
    try:
        relation = con.sql(query)
        if not set(columns) <= set(relation.columns):
            return
        rows = relation.select(*(_column(c) for c in columns)).limit(SAMPLE_SIZE).fetchall()
    except duckdb.Error:
        return
    single = "column_list" not in kwargs
    item.result["partial_unexpected_list"] = [
        row[0] if single else dict(zip(columns, row, strict=True)) for row in rows
    ]


def _exception_message(info: dict | None) -> str | None:
    """GX's error for a failed expectation: at the top level, or (GX 1.x, a metric that could
    not be computed) under each metric's id."""
    if not info:
        return None
    if info.get("exception_message"):
        return info["exception_message"]
    messages = [
        v["exception_message"]
        for v in info.values()
        if isinstance(v, dict) and v.get("exception_message")
    ]
    return "; ".join(messages) or None


def _check(suite: str, layer: str, item) -> Check:
    config = item.expectation_config
    meta = config.meta or {}
    error = _exception_message(item.exception_info) if not item.success else None
    result = item.result or {}
    kind = expectation_type(config)
    unexpected = result.get("unexpected_count")
    if unexpected is None and isinstance(result.get("observed_value"), int):
        unexpected = result["observed_value"] if kind == SQL_CHECK else None
    return Check(
        suite=suite,
        expectation=kind,
        column=config.kwargs.get("column") or meta.get("column"),
        severity=meta.get("severity", "error"),
        success=bool(item.success),
        unexpected=unexpected,
        detail=f"[{error}]" if error else "",
        description=config.description or meta.get("description", ""),
        layer=layer,
        name=meta.get("check", ""),
    )


# Failing rows of the column-map expectations the raw/staging suites use. Anything else is a
# table-level check with no rows to quarantine.
def _failing_select(kind: str, kwargs: dict, params: dict[str, object], table: str) -> str | None:
    column = _column(kwargs["column"]) if "column" in kwargs else None
    value = _resolve(kwargs, params)
    source = quoted(table)
    where = None
    if kind == "expect_column_values_to_not_be_null":
        where = f"{column} is null"
    elif kind == "expect_column_values_to_be_between":
        parts = [
            f"{column} {op} {sql_literal(value[bound])}"
            for bound, op in (("min_value", "<"), ("max_value", ">"))
            if value.get(bound) is not None
        ]
        where = " or ".join(parts) or None
    elif kind == "expect_column_values_to_be_in_set":
        allowed = sql_literal(list(value["value_set"]))
        where = f"{column} is not null and not list_contains({allowed}, {column})"
    elif kind in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
        keys = ", ".join(_column(c) for c in kwargs.get("column_list", [kwargs.get("column")]))
        return (
            f"select * exclude (_copies) from (select *, count(*) over (partition by {keys}) "
            f"as _copies from {source}) where _copies > 1"
        )
    return f"select * from {source} where {where}" if where else None


def _column(name: str) -> str:
    # Column names come from our suites, not from data; some sources use `personnel*`.
    return '"' + name.replace('"', '""') + '"'


def _resolve(kwargs: dict, params: dict[str, object]) -> dict:
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and "$PARAMETER" in value:
            if value["$PARAMETER"] not in params:
                raise SuiteError(
                    f"an expectation reads gate parameter {value['$PARAMETER']!r}, which is not "
                    f"set: expected one of {', '.join(sorted(params))} (see gate_parameters)"
                )
            value = params[value["$PARAMETER"]]
        out[key] = value
    return out


def failing_query(table: str, config, params: dict[str, object]) -> str | None:
    """The SQL selecting every row a failed expectation found (None: a table-level check)."""
    kwargs = config.kwargs
    if expectation_type(config) == SQL_CHECK:
        query = kwargs.get("unexpected_rows_query")
        if not isinstance(query, str):
            return None
        return f"select * from ({query.replace('{batch}', quoted(table))})"
    try:
        return _failing_select(config.type, kwargs, params, table)
    except (KeyError, SuiteError):
        return None


def failing_rows(
    con: duckdb.DuckDBPyConnection, table: str, config, params: dict[str, object]
) -> pl.DataFrame | None:
    """Every row a failed row-level expectation selects: lineage, column, value, reason."""
    columns = {r[0] for r in con.execute(f"describe {quoted(table)}").fetchall()}
    if not set(LINEAGE) <= columns:
        return None
    kwargs = config.kwargs
    column = kwargs.get("column") or (config.meta or {}).get("column")
    kind = expectation_type(config)
    reason = config.description or (config.meta or {}).get("description") or kind
    select = failing_query(table, config, params)
    if select is None:
        return None
    frame = con.sql(select).pl()
    if not set(LINEAGE) <= set(frame.columns):
        return None
    value = pl.col(column).cast(pl.String) if column in frame.columns else pl.lit(None, pl.String)
    return frame.select(
        pl.col("file_sha256"),
        pl.col("source_row").cast(pl.Int64).alias("row"),
        pl.lit(kind).alias("expectation"),
        pl.lit(column, pl.String).alias("column"),
        value.alias("value"),
        pl.lit(reason).alias("reason"),
    )


def blocking(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.success and c.severity == "error"]
