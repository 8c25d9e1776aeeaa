"""The snapshot drafted while the gate runs: same variables, nothing left when it fails."""

from datetime import date

import pytest

from flows.s3_build.models import Model
from flows.s5_publish.publish import Draft, publish
from flows.warehouse.database import connect, second_connection
from flows.warehouse.layout import Warehouse
from flows.warehouse.snapshots import current_snapshot


def test_second_connection_sees_the_variables_a_view_reads(tmp_path):
    con = connect(tmp_path / "build.duckdb")
    con.execute("set variable run_date = ?", [date(2026, 1, 5)])
    con.execute("set variable lag_weeks = ?", [5])
    con.execute("create view v as select getvariable('run_date') as d, getvariable('lag_weeks') n")
    other = second_connection(con)
    # a bare cursor would read NULL here
    assert con.cursor().sql("select * from v").fetchall() == [(None, None)]
    assert other.sql("select * from v").fetchall() == [(date(2026, 1, 5), 5)]
    assert other.sql("select typeof(getvariable('lag_weeks'))").fetchall() == [("INTEGER",)]


def _model(name: str, tmp_path) -> Model:
    sql = "-- grain: one row per k\n-- key: k\nselect 1 as k\n"
    path = tmp_path / f"{name}.sql"
    path.write_text(sql)
    return Model(name=name, layer="marts", path=path, sql=sql, depends_on=frozenset())


def test_a_failed_draft_fails_the_publish_and_leaves_no_folder(tmp_path):
    warehouse = Warehouse.at(tmp_path / "wh")
    con = connect(tmp_path / "build.duckdb")
    # published, but never built: the draft's query fails in its thread
    models = [_model("fct_missing", tmp_path)]
    draft = Draft(con, warehouse, models)
    with pytest.raises(Exception, match="fct_missing"):
        publish(draft, warehouse, models, {}, catalogue={})
    assert list(warehouse.snapshots_folder().iterdir()) == []
    assert current_snapshot(warehouse) is None


def test_a_discarded_draft_is_removed_once_written(tmp_path):
    warehouse = Warehouse.at(tmp_path / "wh")
    con = connect(tmp_path / "build.duckdb")
    con.execute("create table fct_one as select 1 as k")
    draft = Draft(con, warehouse, [_model("fct_one", tmp_path)])
    assert draft.folder.name.startswith(".tmp-")
    draft.discard()
    assert not draft.folder.exists()
