"""The suites as written: every expectation says what it checks, every SQL check has its header,
and `load_suites` assembles the JSON suites and the SQL files into the GX suites the gate runs."""

import json
import re

import duckdb
import pytest
import sqlglot
from duckdb.sqltypes import BIGINT

from flows.errors import SuiteError
from flows.s4_gate import suites as gate

SQL_CHECKS = sorted(gate.EXPECTATIONS_DIR.glob("*/*.sql"))


def _write_suite(folder, name="raw_things", expectations=(), checks=None):
    folder.mkdir(exist_ok=True)
    spec = {"name": name, "expectations": list(expectations), "meta": {"table": name}}
    (folder / f"{name}.json").write_text(json.dumps(spec))
    for check, text in (checks or {}).items():
        (folder / name).mkdir(exist_ok=True)
        (folder / name / f"{check}.sql").write_text(text)


GOOD = """-- severity: warning
-- check: low_not_above_high
-- description: estimate_low <= estimate_high: a published range
--     cannot be upside down
-- column: estimate_low
select * from {batch}
where estimate_low > estimate_high
"""


def test_every_expectation_has_a_severity_a_check_name_and_a_description():
    suites = gate.load_suites()
    assert len(suites) >= 30 and SQL_CHECKS
    for name, spec in suites.items():
        names = [e["meta"].get("check") for e in spec["expectations"]]
        assert len(names) == len(set(names)), f"{name}: check names repeat"
        for expectation in spec["expectations"]:
            where = f"{name}.{expectation['meta'].get('check')}"
            assert expectation["meta"].get("severity") in gate.SEVERITIES, where
            assert expectation["meta"].get("check"), where
            description = expectation.get("description", "")
            # a sentence of its own, not the expectation's type or check name again
            assert len(description.split()) >= 4, f"{where} has no description"


def test_sql_checks_live_in_sql_files_not_in_the_json_suites():
    for path in sorted(gate.EXPECTATIONS_DIR.glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        inline = [
            e["meta"].get("check") for e in spec["expectations"] if e["type"] == gate.SQL_CHECK
        ]
        assert inline == [], f"{path.name}: move {inline} to {path.stem}/<check>.sql"


@pytest.mark.parametrize("path", SQL_CHECKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_sql_check_has_its_header_and_one_query(path):
    text = path.read_text(encoding="utf-8")
    fields, query = gate.parse_sql_check(text, path.name)
    assert fields.get("severity") in gate.SEVERITIES
    assert fields.get("check") == path.stem
    assert len(fields.get("description", "").split()) >= 4
    assert (path.parent.parent / f"{path.parent.name}.json").exists()
    # GX and the quarantine wrap the query in a subquery: no comment or `;` may end it early
    assert "--" not in query and ";" not in query
    assert "{batch}" in query
    assert all(len(line) <= 100 for line in text.splitlines()), "lines over 100 characters"
    runnable = re.sub(r"\$[a-z][a-z0-9_]*", "1", query.replace("{batch}", "checked_table"))
    assert len(sqlglot.parse(runnable, dialect="duckdb")) == 1


def test_sql_checks_join_the_json_expectations_in_file_name_order(tmp_path):
    column = {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "id"},
        "meta": {"severity": "error", "check": "id_not_null"},
        "description": "every record has its id",
    }
    other = GOOD.replace("low_not_above_high", "a_first").replace("-- column: estimate_low\n", "")
    _write_suite(
        tmp_path, expectations=[column], checks={"low_not_above_high": GOOD, "a_first": other}
    )

    (spec,) = gate.load_suites(tmp_path).values()

    assert [e["meta"]["check"] for e in spec["expectations"]] == [
        "id_not_null",
        "a_first",
        "low_not_above_high",
    ]
    assert spec["expectations"][2] == {
        "type": "unexpected_rows_expectation",
        "kwargs": {
            "unexpected_rows_query": "select * from {batch}\nwhere estimate_low > estimate_high"
        },
        "meta": {"severity": "warning", "check": "low_not_above_high", "column": "estimate_low"},
        "description": "estimate_low <= estimate_high: a published range cannot be upside down",
    }
    assert "column" not in spec["expectations"][1]["meta"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("-- severity: warning\n", ""), "header without severity"),
        (
            GOOD.replace(
                "-- description: estimate_low <= estimate_high: a published range\n"
                "--     cannot be upside down\n",
                "",
            ),
            "header without description",
        ),
        (GOOD.replace("warning", "fatal"), "severity 'fatal', expected error or warning"),
        (
            GOOD.replace("-- check: low_not_above_high", "-- check: other"),
            "check 'other', expected low_not_above_high",
        ),
        (GOOD.replace("-- column:", "-- owner:"), "unknown header field 'owner'"),
        (
            GOOD.replace("-- column: estimate_low\n", "-- severity: error\n"),
            "header field 'severity' given twice",
        ),
        ("select * from {batch}\n", "header without severity, check, description"),
        (GOOD.split("select")[0], "no query after the header"),
        (GOOD.replace("--     cannot", "-- cannot"), "line 4: expected a '-- field: value'"),
    ],
    ids=[
        "no-severity",
        "no-description",
        "bad-severity",
        "wrong-name",
        "unknown-field",
        "repeated-field",
        "no-header",
        "no-query",
        "bad-continuation",
    ],
)
def test_a_sql_check_without_its_header_is_refused_naming_the_file(tmp_path, text, expected):
    _write_suite(tmp_path, checks={"low_not_above_high": text})
    with pytest.raises(SuiteError, match=re.escape(expected)) as info:
        gate.load_suites(tmp_path)
    assert "raw_things/low_not_above_high.sql" in str(info.value)


def test_sql_checks_without_a_suite_are_refused(tmp_path):
    _write_suite(tmp_path, checks={"low_not_above_high": GOOD})
    (tmp_path / "raw_things.json").unlink()
    with pytest.raises(SuiteError, match=r"raw_things/ belong to no suite: expected raw_things"):
        gate.load_suites(tmp_path)


def test_a_suite_that_is_not_json_is_refused(tmp_path):
    (tmp_path / "broken.json").write_text('{"expectations": [')
    with pytest.raises(SuiteError, match="suite broken.json: not valid JSON"):
        gate.load_suites(tmp_path)


def test_a_gate_parameter_no_setting_provides_is_named():
    with pytest.raises(SuiteError, match=r"\$max_nothing, which is not set: expected one of \$a"):
        gate.render_query("select * from {batch} where x > $max_nothing", {"a": 1})
    assert gate.render_query("select $a, $b", {"a": 1, "b": "it's"}) == "select 1, 'it''s'"


def test_a_column_bound_reading_an_unset_parameter_is_named():
    with pytest.raises(SuiteError, match=r"gate parameter 'max_nothing', which is not set"):
        gate._resolve({"column": "x", "max_value": {"$PARAMETER": "max_nothing"}}, {"a": 1})
    with pytest.raises(SuiteError, match="type dict cannot go into SQL: expected a number"):
        gate.sql_literal({"a": 1})


def test_a_sql_check_runs_its_query_once_and_reports_as_unexpected_rows_expectation():
    from flows.s4_gate.gx_counted import UnexpectedRowsCount

    assert UnexpectedRowsCount.expectation_type == gate.COUNTED_CHECK
    con = duckdb.connect()
    con.execute("create table raw_things as select range as id from range(10)")
    seen = []
    con.create_function("seen", lambda i: seen.append(i) or i, [BIGINT], BIGINT)

    def check(name: str, where: str) -> dict:
        return {
            "type": gate.SQL_CHECK,
            "kwargs": {"unexpected_rows_query": f"select * from {{batch}} where {where}"},
            "meta": {"severity": "warning", "check": name},
            "description": f"no row where {where}",
        }

    expectations = [check("counted_once", "seen(id) > 9"), check("id_below_7", "id >= 7")]
    suite = {"name": "raw_things", "expectations": expectations, "meta": {"table": "raw_things"}}

    result = gate.validate(con, {}, {"raw_things": suite})

    # GX's own UnexpectedRowsExpectation also fetched the rows: every row was seen twice
    assert sorted(seen) == list(range(10))
    passed, failed = result.checks
    assert (passed.expectation, passed.success, passed.unexpected) == (gate.SQL_CHECK, True, 0)
    assert (failed.expectation, failed.success, failed.unexpected) == (gate.SQL_CHECK, False, 3)
    assert failed.detail == "first rows: id=7 | id=8 | id=9"
    assert failed.describe() == (
        "raw_things: unexpected_rows_expectation id_below_7 (no row where id >= 7) "
        "(3 unexpected rows) first rows: id=7 | id=8 | id=9"
    )
    assert [r.result for r in result.results[0].results] == [
        {"observed_value": 0},
        {"observed_value": 3},
    ]


@pytest.mark.parametrize(
    ("suite", "day"), [("raw_mediazona_daily", '"date"'), ("stg_mediazona_daily", "death_date")]
)
def test_mediazona_key_unique_selects_every_row_of_a_repeated_key_as_grouping_does(suite, day):
    # neighbours in each vintage's day order instead of grouping by both keys: at 100x (6.9 M
    # rows) 0.4-0.6 s against 1.2-1.4 s; the rows must be those the grouping selects
    con = duckdb.connect()
    con.execute(
        f"""create table checked as select * from (values
        (1, date '2024-01-01', date '2024-01-01'), (2, date '2024-01-01', date '2024-01-01'),
        (3, date '2024-01-01', date '2024-01-02'), (4, date '2024-01-01', null),
        (5, date '2024-01-01', null), (6, null, date '2024-01-03'), (7, null, date '2024-01-03'),
        (8, date '2024-02-01', date '2024-01-01'), (9, date '2024-02-01', date '2024-01-05'),
        (10, date '2024-02-01', date '2024-01-05'), (11, date '2024-02-01', date '2024-01-05'),
        (12, date '2024-02-01', date '2024-01-06')) v(source_row, as_of, {day})"""
    )
    check = gate.read_sql_check(gate.EXPECTATIONS_DIR / suite / "key_unique.sql")
    query = check["kwargs"]["unexpected_rows_query"].replace("{batch}", "checked")
    grouped = (
        f"select * from checked where (as_of, {day}) in "
        f"(select as_of, {day} from checked group by as_of, {day} having count(*) > 1)"
    )
    selected = con.execute(query).fetchall()
    assert sorted(selected) == sorted(con.execute(grouped).fetchall())
    assert sorted(row[0] for row in selected) == [1, 2, 9, 10, 11]
    assert [c[0] for c in con.execute(query).description] == ["source_row", "as_of", day.strip('"')]
