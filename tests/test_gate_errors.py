"""A check GX could not compute fails with GX's reason, not a blank."""

import duckdb

from flows import gate


def test_a_check_that_cannot_run_fails_with_its_reason():
    con = duckdb.connect()
    con.execute("create table t as select 1 as present")
    suite = {
        "name": "t",
        "meta": {"table": "t", "layer": "marts"},
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "absent"},
                "meta": {"severity": "error", "check": "absent_not_null"},
            }
        ],
    }
    (check,) = gate.run_gate(con, {}, {"t": suite})
    assert not check.success and check.severity == "error"
    assert "absent" in check.detail
    assert gate.blocking([check]) == [check]
