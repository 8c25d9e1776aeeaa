"""A mart's `-- rows from` line that cannot run stops the publish with one clear error."""

import duckdb
import pytest

from flows.errors import ModelFailed
from flows.lineage.capture import row_counts
from flows.s3_build.models import Model


def test_a_rows_from_line_that_cannot_run_names_the_model_and_line(tmp_path):
    con = duckdb.connect()
    con.execute("create table stg_up as select 1 as k, 'abc' as file_sha256")
    con.execute("create table fct_x as select 1 as k")
    sql = "-- grain: one row per k\n-- key: k\n-- rows from stg_up: no_such_column = {k}\nselect 1"
    model = Model("fct_x", "marts", tmp_path / "fct_x.sql", sql, frozenset({"stg_up"}))
    with pytest.raises(ModelFailed) as info:
        row_counts(con, [model])
    message = str(info.value)
    assert "fct_x.sql: '-- rows from stg_up: no_such_column = {k}' failed" in message
    assert "expected a condition on columns of stg_up and fct_x" in message
    # the same line with a column that exists counts the upstream row
    good = sql.replace("no_such_column", "u.k")
    model = Model("fct_x", "marts", tmp_path / "fct_x.sql", good, frozenset({"stg_up"}))
    assert row_counts(con, [model]).column("rows").to_pylist() == [1]
