"""Every expectation in expectations/ passes on clean sample data and fails, with the severity
its meta declares, on a copy of that data made to violate it (an expectation that cannot fail is
a defect)."""

import re
import shutil
from datetime import UTC, date, datetime

import duckdb
import pytest

from flows.config import load_settings
from flows.s1_sources.catalogue import load_catalogue
from flows.s1_sources.samples import write_sample_sources
from flows.s2_ingest.collect import ingest_source
from flows.s3_build.runner import build_models
from flows.s4_gate import suites as gate
from flows.s4_gate.gate import DRIFT_TABLES, ROWS_TABLE, SHARE_TABLE, gate_parameters
from flows.warehouse.database import connect

pytestmark = pytest.mark.slow

RUN_DATE = date(2026, 11, 1)
FIRST = "(select min(rowid) from {t})"

# Violations of the SQL checks, keyed by (suite, meta.check); `{t}` is the suite's table.
CUSTOM = {
    (
        "dim_region",
        "region_code_format",
    ): f"update {{t}} set region_code = 'XX-1' where rowid = {FIRST}",
    (
        "dim_week",
        "week_starts_monday",
    ): f"update {{t}} set week_start = week_start + 1 where rowid = {FIRST}",
    (
        "fct_weekly_losses",
        "week_starts_monday",
    ): f"update {{t}} set week_start = week_start + 1 where rowid = {FIRST}",
    (
        "stg_weekly_named",
        "week_starts_monday",
    ): f"update {{t}} set week_start = week_start + 2 where rowid = {FIRST}",
    (
        "fct_weekly_losses",
        "nowcast_within_band",
    ): "update {t} set nowcast_deaths = 900, nowcast_deaths_low = 100, nowcast_deaths_high = 800 "
    f"where rowid = {FIRST}",
    ("fct_daily_losses", "schema_types"): "alter table {t} alter named_deaths type double",
    ("fct_weekly_losses", "schema_types"): "alter table {t} alter named_deaths type double",
    ("fct_regional_losses", "schema_types"): 'alter table {t} alter "year" type bigint',
    ("raw_mediazona_daily", "schema_types"): "alter table {t} alter change type double",
    ("raw_named_records", "schema_types"): "alter table {t} alter age type double",
    ("raw_official_claims", "schema_types"): "alter table {t} alter personnel type double",
    (
        "raw_territory_area",
        "schema_types",
    ): "alter table {t} alter area_assessed_as_russia_controlled type varchar",
    ("raw_weekly_named", "schema_types"): "alter table {t} alter BmzNow type double",
    (
        "fct_daily_losses",
        "cumulative_claims_non_decreasing",
    ): 'update {t} set claimed_personnel_cumulative = -1 where "date" = (select max("date") '
    "from {t})",
    (
        "fct_daily_losses",
        "days_contiguous",
    ): 'delete from {t} where "date" = (select min("date") + 10 from {t})',
    (
        "fct_regional_losses",
        "key_unique",
    ): f"insert into {{t}} select * from {{t}} where rowid = {FIRST}",
    (
        "fct_regional_losses",
        "region_code_in_dim_region",
    ): f"update {{t}} set region_code = 'RU-ZZZ' where rowid = {FIRST}",
    (
        "int_named_records_regions",
        "region_code_in_dim_region",
    ): f"update {{t}} set region_code = 'RU-ZZZ' where rowid = {FIRST}",
    (
        "fct_regional_losses",
        "unmapped_share_below_threshold",
    ): "update {t} set region_code = 'UNMAPPED'",
    (
        "int_named_records_regions",
        "unmapped_region_share_below_threshold",
    ): "update {t} set region_code = 'UNMAPPED'",
    (
        "fct_weekly_losses",
        "named_cumulative_non_decreasing",
    ): "update {t} set named_cumulative = -1 where week_start = (select max(week_start) from {t})",
    (
        "fct_weekly_losses",
        "weekly_area_change_bounded",
    ): f"update {{t}} set km2_gained = 1e9 where rowid = {FIRST}",
    (
        "fct_yearly_summary",
        "estimate_low_not_above_high",
    ): f"update {{t}} set estimate_low = estimate_high + 1 where rowid = {FIRST}",
    ("quarantine_share", "share_below_threshold"): "update {t} set quarantined_rows = total_rows",
    (
        "raw_mediazona_daily",
        "no_date_after_vintage",
    ): f'update {{t}} set "date" = as_of + 1 where rowid = {FIRST}',
    (
        "raw_mediazona_daily",
        "total_is_running_sum",
    ): f"update {{t}} set total = total + 1 where rowid = {FIRST}",
    (
        "raw_mediazona_daily",
        "sum_of_change_equals_last_total",
    ): 'update {t} set change = change + 1 where "date" = (select min("date") from {t})',
    (
        "raw_mediazona_daily",
        "vintage_does_not_lower_past_weeks",
    ): "update {t} set change = 0 where as_of = (select max(as_of) from {t})",
    (
        "raw_official_claims",
        "personnel_never_decreases",
    ): 'update {t} set personnel = 0 where "date" = (select max("date") from {t})',
    (
        "raw_official_claims",
        "day_matches_date",
    ): f'update {{t}} set "day" = "day" + 5 where rowid = {FIRST}',
    (
        "raw_published_estimates",
        "low_not_above_high",
    ): f"update {{t}} set estimate_low = 10, estimate_high = 5 where rowid = {FIRST}",
    ("raw_regions", "iso_code_format"): f"update {{t}} set iso_code = 'XX' where rowid = {FIRST}",
    (
        "raw_weekly_named",
        "week_not_in_future",
    ): f'update {{t}} set "Year" = 2100 where rowid = {FIRST}',
    (
        "reconcile_named_sources",
        "daily_vs_weekly_series_per_year",
    ): "update {t} set named_deaths_weekly_series = named_deaths * 3 + 100",
    (
        "reconcile_named_totals",
        "weekly_equals_daily_equals_vintage",
    ): f"update {{t}} set named_deaths = named_deaths + 1 where rowid = {FIRST}",
    (
        "reconcile_named_totals",
        "each_week_equals_its_days",
    ): f"update {{t}} set named_deaths = named_deaths + 1 where rowid = {FIRST}",
    (
        "reconcile_named_totals",
        "daily_equals_latest_raw_vintage",
    ): f"update {{t}} set named_deaths = named_deaths + 1 where rowid = {FIRST}",
    (
        "reconcile_named_vs_claims",
        "named_not_above_claims",
    ): "update {t} set named_deaths = claimed_personnel * 2 + 10",
    (
        "reconcile_regional_totals",
        "regional_equals_records_per_year",
    ): f"update {{t}} set named_deaths = named_deaths + 1 where rowid = {FIRST}",
    (
        "reconcile_regional_totals",
        "shares_sum_to_one",
    ): "update {t} set share_of_year = share_of_year + 0.5 "
    'where rowid = (select min(rowid) from {t} where "year" is not null)',
    (
        "reconcile_yearly_totals",
        "yearly_equals_daily",
    ): "update {t} set named_deaths = named_deaths + 1 where period_type = 'calendar'",
    (
        "stg_territory_area",
        "daily_change_bounded",
    ): "update {t} set occupied_km2 = occupied_km2 + 100000 "
    "where area_date = (select min(area_date) + 5 from {t})",
}
# a (vintage, day) key twice: one row copied
for _table in ("raw_mediazona_daily", "stg_mediazona_daily"):
    CUSTOM[(_table, "key_unique")] = f"insert into {{t}} select * from {{t}} where rowid = {FIRST}"
CUSTOM[("fct_territory_snapshots", "formats_agree_in_known_set")] = (
    f"update {{t}} set formats_agree = false where rowid = {FIRST}"
)
CUSTOM[("fct_territory_snapshots", "economist_agrees_in_known_set")] = (
    f"update {{t}} set economist_agrees = false where rowid = {FIRST}"
)
for _table in DRIFT_TABLES:
    CUSTOM[(f"drift_{_table}", "rows_vs_previous")] = (
        f"insert into prev_{_table} select * from prev_{_table}"
    )
CUSTOM[("drift_fct_weekly_losses", "named_deaths_total_vs_previous")] = (
    "update prev_fct_weekly_losses set named_deaths = named_deaths * 3"
)
CUSTOM[("drift_fct_regional_losses", "named_deaths_total_vs_previous")] = (
    "update prev_fct_regional_losses set named_deaths = named_deaths * 3"
)
# completeness: a day, week or region the previous snapshot had is gone now
CUSTOM[("drift_dim_region", "census_denominators_kept")] = (
    "update {t} set men_16_61 = null where region_code = (select min(region_code) from {t}"
    " where men_16_61 is not null)"
)
CUSTOM[("source_rows", "rows_not_dropped")] = "update {t} set rows_now = rows_before * 0.9"
CUSTOM[("drift_dim_region", "region_codes_kept")] = (
    "update {t} set federal_district = null where region_code = (select min(region_code)"
    " from {t} where federal_district is not null)"
)
CUSTOM[("drift_fct_daily_losses", "claims_days_kept")] = (
    'update {t} set claimed_personnel_cumulative = null where "date" = (select max("date")'
    " from {t} where claimed_personnel_cumulative is not null)"
)
CUSTOM[("drift_fct_daily_losses", "area_days_kept")] = (
    'update {t} set occupied_km2_alt = null where "date" = (select max("date") from {t}'
    " where occupied_km2_alt is not null)"
)
CUSTOM[("drift_fct_daily_losses", "named_vintage_not_earlier")] = (
    'update {t} set provisional = true where "date" = (select max("date") from {t}'
    " where not provisional)"
)
CUSTOM[("drift_fct_weekly_losses", "weekly_series_weeks_kept")] = (
    "update {t} set probate_estimate = null where week_start = (select max(week_start)"
    " from {t} where probate_estimate is not null)"
)
CUSTOM[("drift_fct_daily_losses", "claimed_personnel_total_vs_previous")] = (
    "update prev_fct_daily_losses set claimed_personnel = claimed_personnel * 3"
)


def _cases():
    for name, spec in gate.load_suites().items():
        for index, expectation in enumerate(spec["expectations"]):
            yield pytest.param(name, index, id=f"{name}-{expectation['meta'].get('check', index)}")


def _bound(value, parameters):
    if isinstance(value, dict):
        value = parameters[value["$PARAMETER"]]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value = date.fromisoformat(value)
    return value


def _generic(kind: str, kwargs: dict, parameters: dict) -> str | None:
    column = '"' + kwargs.get("column", "") + '"'
    first = FIRST
    if kind == "expect_column_values_to_not_be_null":
        return f"update {{t}} set {column} = null where rowid = {first}"
    if kind == "expect_column_values_to_be_between":
        if "min_value" in kwargs:
            low = gate.sql_literal(_bound(kwargs["min_value"], parameters))
            return f"update {{t}} set {column} = {low} - 1 where rowid = {first}"
        high = gate.sql_literal(_bound(kwargs["max_value"], parameters))
        return f"update {{t}} set {column} = {high} + 1 where rowid = {first}"
    if kind in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
        return f"insert into {{t}} select * from {{t}} where rowid = {first}"
    if kind == "expect_column_values_to_be_in_set":
        return f"update {{t}} set {column} = 'not a known value' where rowid = {first}"
    if kind == "expect_table_row_count_to_be_between":
        return "delete from {t}"
    return None


@pytest.fixture(scope="module")
def clean_database(tmp_path_factory):
    """Sample sources ingested and built (raw layer as tables, so rows can be edited)."""
    root = tmp_path_factory.mktemp("expectations")
    settings = load_settings(
        source_dir=write_sample_sources(root / "sources"),
        warehouse=root / "wh",
        verify_checksums=False,
    )
    catalogue = load_catalogue(settings.catalogue)
    fetched_at = datetime.now(UTC)
    for source in catalogue.values():
        ingest_source(settings, source, fetched_at)
    path = root / "clean.duckdb"
    con = connect(path)
    build_models(con, settings.warehouse, catalogue, variables=settings.result_affecting())
    # The generated weekly series is drawn independently of the daily one: make them agree.
    con.execute(
        "update fct_weekly_losses set named_deaths_weekly_series = named_deaths "
        "where named_deaths_weekly_series is not null"
    )
    for table in DRIFT_TABLES:
        con.execute(f"create table prev_{table} as select * from {table}")
    con.execute(
        f"create table {SHARE_TABLE} as select 'sample' as source, "
        "1000::bigint as total_rows, 0::bigint as quarantined_rows"
    )
    con.execute(
        f"create table {ROWS_TABLE} as select 'sample' as source, 1::bigint as files_before, "
        "1000::bigint as rows_before, 1::bigint as files_now, 1000::bigint as rows_now"
    )
    con.close()
    return path, gate_parameters(settings, RUN_DATE)


def _materialise(con, table: str) -> None:
    kind = con.execute(
        "select table_type from information_schema.tables where table_name = ?", [table]
    ).fetchone()[0]
    if kind == "VIEW":
        con.execute(f'create table _copy as select * from "{table}"')
        con.execute(f'drop view "{table}"')
        con.execute(f'alter table _copy rename to "{table}"')


def test_every_expectation_passes_on_clean_data_and_declares_its_severity(clean_database):
    path, parameters = clean_database
    suites = gate.load_suites()
    for name, spec in suites.items():
        for expectation in spec["expectations"]:
            assert expectation["meta"].get("severity") in gate.SEVERITIES, (name, expectation)
            assert expectation["meta"].get("check"), (name, expectation)
    con = duckdb.connect(str(path), read_only=True)
    try:
        checks = gate.run_gate(con, parameters, suites)
    finally:
        con.close()
    assert len(checks) == sum(len(s["expectations"]) for s in suites.values())
    assert [c.describe() for c in checks if not c.success] == []


@pytest.mark.parametrize(("suite_name", "index"), list(_cases()))
def test_expectation_fails_on_violating_data(clean_database, tmp_path, suite_name, index):
    base, parameters = clean_database
    spec = gate.load_suites()[suite_name]
    expectation = spec["expectations"][index]
    meta = expectation["meta"]
    table = gate.suite_table(suite_name, spec)
    violation = CUSTOM.get((suite_name, meta["check"])) or _generic(
        expectation["type"], expectation["kwargs"], parameters
    )
    assert violation, f"no violating fixture for {suite_name}.{meta['check']}"
    path = tmp_path / "violated.duckdb"
    shutil.copy(base, path)
    con = duckdb.connect(str(path))
    try:
        _materialise(con, table)
        con.execute(violation.format(t=f'"{table}"'))
        single = {**spec, "expectations": [expectation]}
        (check,) = gate.run_gate(con, parameters, {suite_name: single})
    finally:
        con.close()
    assert not check.success, f"{suite_name}.{meta['check']} passed on violating data"
    assert check.severity == meta["severity"]


def test_an_accepted_shrink_passes_and_names_only_that_source(clean_database, tmp_path):
    """--accept-shrink SOURCE lets that source's completeness check pass, and no other."""
    base, parameters = clean_database
    spec = gate.load_suites()["drift_dim_region"]
    kept = [e for e in spec["expectations"] if e["meta"]["check"] == "census_denominators_kept"]
    single = {"drift_dim_region": {**spec, "expectations": kept}}
    path = tmp_path / "shrunk.duckdb"
    shutil.copy(base, path)
    con = duckdb.connect(str(path))
    try:
        _materialise(con, "dim_region")
        con.execute(CUSTOM[("drift_dim_region", "census_denominators_kept")].format(t="dim_region"))
        (refused,) = gate.run_gate(con, {**parameters, "accept_shrink": "official_claims"}, single)
        (accepted,) = gate.run_gate(con, {**parameters, "accept_shrink": "census_men"}, single)
    finally:
        con.close()
    assert not refused.success
    assert "first rows: region_code=" in refused.describe()
    assert accepted.success
