"""The SQL runner finds every model, orders them by reference, and they all parse."""

import duckdb
import pytest

from flows.errors import TollError
from flows.s3_build.models import build_order, discover, parse_header, run_macros, tables_read


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
    from flows.s3_build.models import run_models

    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "fct_jumpy.sql").write_text(
        "select case when 2 > 1 then error('snapshot 17 jumps 9000 km2') end as x\n"
    )
    con = duckdb.connect()
    with pytest.raises(TollError, match=r"fct_jumpy\.sql failed: .*snapshot 17 jumps"):
        run_models(con, discover(tmp_path))


def test_every_model_declares_its_grain_and_key():
    for model in discover().values():
        assert model.grain, f"{model.path.name} has no '-- grain:' line"
        assert model.keys, f"{model.path.name} has no '-- key:' line"
    # a grain spanning two lines is read whole (it was published cut short)
    backtest = discover()["fct_nowcast_backtest"]
    assert backtest.grain.endswith("against the count the list held at its target vintage")


def test_header_fields_and_continuations():
    sql = (
        "-- grain: one row per week\n"
        "--     of death\n"
        "-- key: week_start, as_of\n"
        "-- partition: as_of\n"
        "-- rows from stg_x: week = {week_start}\n"
        "--     and as_of = {as_of}\n"
        "-- Prose after the header: not a field.\n"
        "--     nor is this.\n"
        "select 1"
    )
    header = parse_header(sql)
    assert header.grain == "one row per week of death"
    assert header.keys == ("week_start", "as_of")
    assert header.partition == "as_of"
    assert header.rows_from == {"stg_x": "week = {week_start} and as_of = {as_of}"}
    with pytest.raises(TollError, match="given twice"):
        parse_header("-- key: a\n-- key: b\nselect 1")


def test_dependencies_are_the_tables_a_model_reads():
    sql = (
        "with stg_regions as (select 1 as dim_week)\n"
        "select dim_week from stg_regions join raw_census_men using (x)"
    )
    # a CTE named like a model and a column named like a model are not dependencies
    assert tables_read(sql) == {"raw_census_men"}


@pytest.mark.slow
def test_every_key_is_unique_on_the_sample_sources(tmp_path):
    from datetime import UTC, datetime

    from flows.config import load_settings
    from flows.s1_sources.catalogue import load_catalogue
    from flows.s1_sources.samples import write_sample_sources
    from flows.s2_ingest.collect import ingest_source
    from flows.s3_build.runner import build_models
    from flows.warehouse.database import connect
    from flows.warehouse.sql_names import quoted

    sources = write_sample_sources(tmp_path / "sources")
    settings = load_settings(
        source_dir=sources, warehouse=tmp_path / "warehouse", verify_checksums=False
    )
    catalogue = load_catalogue(settings.catalogue)
    for source in catalogue.values():
        ingest_source(settings, source, datetime.now(UTC))
    con = connect(tmp_path / "work.duckdb")
    models = build_models(con, settings.warehouse, catalogue, variables=settings.result_affecting())
    for model in models:
        keys = ", ".join(quoted(k) for k in model.keys)
        rows, distinct = con.execute(
            f"select count(*), count(distinct ({keys})) from {quoted(model.name)}"
        ).fetchone()
        assert rows == distinct, f"{model.name}: key ({keys}) is not unique"
