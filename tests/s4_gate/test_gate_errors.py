"""A check GX could not compute fails with GX's reason, not a blank; GX's chatter stays out."""

import logging

import duckdb

from flows.s4_gate import suites as gate


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


def test_gx_info_messages_are_kept_out_of_a_run():
    import great_expectations as gx

    gate.quiet_great_expectations()
    gx.get_context(mode="ephemeral")
    # GX sets this one to INFO itself ("Created temporary directory ... for ephemeral docs site")
    chatty = logging.getLogger("great_expectations.data_context.types.base")
    assert chatty.getEffectiveLevel() >= logging.WARNING
