"""The SQL runner finds every model, orders them by reference, and they all parse."""

import duckdb

from flows.models import build_order, discover, run_macros


def test_models_discovered_and_ordered():
    models = discover()
    order = [m.name for m in build_order(models)]
    assert order.index("stg_mediazona_daily") < order.index("int_named_daily_latest")
    assert order.index("int_named_daily_latest") < order.index("fct_daily_losses")
    assert order.index("fct_daily_losses") < order.index("fct_weekly_losses")
    assert {m.name for m in models.values() if m.published} >= {
        "dim_region",
        "dim_week",
        "fct_daily_losses",
        "fct_weekly_losses",
        "fct_regional_losses",
        "fct_named_vintages",
    }
    for model in models.values():
        if model.published:
            assert model.keys, f"{model.name} has no '-- key:' line"


def test_every_model_parses():
    con = duckdb.connect()
    run_macros(con)
    for model in discover().values():
        assert len(duckdb.extract_statements(model.sql)) == 1, model.name


def test_region_alias_key_and_iso_macros():
    con = duckdb.connect()
    run_macros(con)
    rows = con.execute(
        "select alias_key('St.Petersburg'), alias_key(' Саха /Якутия/ '), iso_region_code('TY'),"
        " iso_region_code('UA-43'), iso_week_start(2022, 8), war_year(date '2023-02-24')"
    ).fetchall()[0]
    assert rows[0] == "stpetersburg"
    assert rows[1] == "сахаякутия"
    assert rows[2:4] == ("RU-TY", "UA-43")
    assert str(rows[4]) == "2022-02-21"
    assert rows[5] == 2


def test_a_check_inside_a_model_is_a_toll_error_naming_the_model(tmp_path):
    import pytest

    from flows.errors import TollError
    from flows.models import run_models

    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "fct_jumpy.sql").write_text(
        "select case when 2 > 1 then error('snapshot 17 jumps 9000 km2') end as x\n"
    )
    con = duckdb.connect()
    with pytest.raises(TollError, match=r"fct_jumpy\.sql failed: .*snapshot 17 jumps"):
        run_models(con, discover(tmp_path))
