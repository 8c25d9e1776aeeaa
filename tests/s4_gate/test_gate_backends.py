"""bench/gate_backends.py: the same suites on GX's SQL backend and on Arrow-backed pandas frames
give the same pass/fail, and what only SQL can run is listed, not dropped."""

import sys
from datetime import date
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package
from bench.gate_backends import compare, measure  # noqa: E402


def test_sql_and_frames_agree_on_failing_staging_rows(tmp_path):
    database = tmp_path / "gate.duckdb"
    con = duckdb.connect(str(database))
    # a duplicated date and a negative increment; a duplicated week that is not a Monday
    con.execute(
        "create table stg_official_claims as select * from (values "
        "(date '2024-01-01', 100), (date '2024-01-01', 120), (date '2024-01-02', -5)) "
        "t(report_date, claimed_personnel)"
    )
    con.execute(
        "create table stg_weekly_named as select * from (values "
        "(date '2024-01-01', 3), (date '2024-01-01', 4), (date '2024-01-10', 2)) "
        "t(week_start, named)"
    )
    con.close()

    runs = {b: measure(database, "staging", b, date(2024, 6, 1)) for b in ("sql", "frames")}
    agreement = compare(runs)

    assert agreement["differ"] == []
    assert set(agreement["failed_in_both"]) >= {
        "stg_official_claims:expect_column_values_to_be_unique:report_date_unique",
        "stg_official_claims:expect_column_values_to_be_between:daily_increment_plausible",
        "stg_weekly_named:expect_column_values_to_be_unique:week_start_unique",
    }
    sql_only = " ".join(agreement["sql_only"])
    assert "stg_weekly_named:unexpected_rows_expectation:week_starts_monday" in sql_only
    sql = {o["key"]: o for o in runs["sql"]["outcomes"]}
    monday = "stg_weekly_named:unexpected_rows_expectation:week_starts_monday"
    assert sql[monday]["success"] is False
    assert "stg_named_records" in runs["frames"]["missing_tables"]
    assert runs["frames"]["rows"] == runs["sql"]["rows"] == 6
