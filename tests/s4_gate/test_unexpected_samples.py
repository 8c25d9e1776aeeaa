"""GX validates in BASIC; a failed column check's sample of unexpected values is toll's own,
so Data Docs still shows it."""

from __future__ import annotations

import duckdb

from flows.s4_gate.data_docs import build_data_docs
from flows.s4_gate.suites import SAMPLE_SIZE, validate


def _suite(expectations: list[dict]) -> dict:
    return {
        "name": "weeks",
        "meta": {"table": "weeks", "layer": "marts"},
        "expectations": [
            {**e, "meta": {"severity": "error", "check": f"check_{i}"}}
            for i, e in enumerate(expectations)
        ],
    }


def _results(con: duckdb.DuckDBPyConnection, expectations: list[dict]):
    outcome = validate(con, {}, {"weeks": _suite(expectations)})
    return outcome, [item.result for item in outcome.results[0].results]


def test_failed_checks_carry_their_unexpected_values_and_passing_ones_none(tmp_path) -> None:
    con = duckdb.connect()
    con.execute(
        "create table weeks as select range as iso_week, range % 3 as part, "
        "case when range > 50 then null else range end as named from range(1, 54)"
    )
    outcome, results = _results(
        con,
        [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "iso_week", "min_value": 1, "max_value": 50},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "iso_week", "min_value": 1, "max_value": 53},
            },
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "named"}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "part"}},
            {
                "type": "expect_compound_columns_to_be_unique",
                "kwargs": {"column_list": ["part", "iso_week"]},
            },
        ],
    )
    between, passing, not_null, unique, compound = results
    assert between["unexpected_count"] == 3
    assert sorted(between["partial_unexpected_list"]) == [51, 52, 53]
    assert passing["unexpected_count"] == 0 and not passing.get("partial_unexpected_list")
    assert not_null["unexpected_count"] == 3
    assert not_null["partial_unexpected_list"] == [None, None, None]
    # every row repeats its `part`: a sample, capped like GX's
    assert unique["unexpected_count"] == 53
    assert len(unique["partial_unexpected_list"]) == SAMPLE_SIZE
    assert set(unique["partial_unexpected_list"]) == {0, 1, 2}
    assert compound["unexpected_count"] == 0 and not compound.get("partial_unexpected_list")

    folder = build_data_docs(outcome, tmp_path / "docs" / "run-1").parent
    (page,) = (folder / "validations" / "weeks").rglob("weeks.html")
    html = page.read_text(encoding="utf-8")
    assert "Unexpected Values" in html and ">53<" in html


def test_a_failed_compound_key_is_sampled_as_its_columns(tmp_path) -> None:
    con = duckdb.connect()
    con.execute("create table weeks as select * from (values (1, 'a'), (1, 'a'), (2, 'b')) t(w, s)")
    _, (compound,) = _results(
        con,
        [{"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["w", "s"]}}],
    )
    assert compound["unexpected_count"] == 2
    assert compound["partial_unexpected_list"] == [{"w": 1, "s": "a"}, {"w": 1, "s": "a"}]
