"""GX on the run's DuckDB connection: the column types it needs come from a one-row select,
with no catalog reflection (which fails on DuckDB and only costs time)."""

from __future__ import annotations

import duckdb
from sqlalchemy import event
from sqlalchemy.engine import Engine

from flows.s4_gate import gx_duckdb
from flows.s4_gate import suites as gate


def _between(check: str, column: str, low: object, high: object) -> dict:
    return {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": column, "min_value": low, "max_value": high},
        "meta": {"severity": "error", "check": check},
    }


SUITE = {
    "name": "t",
    "meta": {"table": "t", "layer": "marts"},
    "expectations": [
        _between("days_in_2024", "day", "2024-01-01", "2024-12-31"),
        _between("days_in_first_week", "day", "2024-01-01", "2024-01-07"),
        _between("km2_small", "km2", 0, 15),
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "side", "value_set": ["ru", "ua"]},
            "meta": {"severity": "error", "check": "side_known"},
        },
    ],
}


def _gate() -> tuple[dict, list[str]]:
    con = duckdb.connect()
    con.execute(
        "create table t as select date '2024-01-01' + i::int as day, i * 1.5 as km2, "
        "if(i < 9, 'ru', 'xx') as side from range(10) r(i)"
    )
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        checks = gate.run_gate(con, {}, {"t": SUITE})
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    return {c.name: (c.success, c.unexpected) for c in checks}, statements


def test_typed_checks_run_without_catalog_queries(monkeypatch) -> None:
    outcomes, statements = _gate()
    assert outcomes == {
        "days_in_2024": (True, 0),
        "days_in_first_week": (False, 3),
        "km2_small": (True, 0),
        "side_known": (False, 1),
    }
    assert statements and not [s for s in statements if "pg_catalog" in s]
    # GX's own reflection queries the catalog, fails, and gets to the same outcomes
    monkeypatch.setattr(gx_duckdb, "skip_catalog_reflection", lambda dialect: None)
    reflected, statements = _gate()
    assert reflected == outcomes
    assert [s for s in statements if "pg_catalog" in s]
