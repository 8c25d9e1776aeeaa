"""A published snapshot documents itself: every column described in toll.duckdb and Parquet,
a CSV beside each table, each table's licence and the citation naming the snapshot."""

from __future__ import annotations

import csv
import json

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from helpers.toll_testing import run_cli

from flows.s3_build.column_docs import load_table_docs
from flows.warehouse.snapshots import METADATA, current_snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def snapshot(demo_baseline):
    _, warehouse = demo_baseline
    found = current_snapshot(warehouse)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def tables(snapshot) -> dict[str, int]:
    return json.loads((snapshot / METADATA).read_text())["tables"]


def test_every_published_column_is_described_in_duckdb_and_parquet(snapshot, tables) -> None:
    docs = load_table_docs()
    con = duckdb.connect(str(snapshot / "toll.duckdb"), read_only=True)
    try:
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() where not internal"
        ).fetchall()
        table_comments = dict(
            con.execute(
                "select table_name, comment from duckdb_tables() where not internal"
            ).fetchall()
        )
    finally:
        con.close()
    assert {t for t, _, _ in columns} == set(tables)
    undescribed = [f"{t}.{c}" for t, c, comment in columns if not comment]
    assert undescribed == [], f"published columns without a description: {undescribed}"
    assert all(table_comments[t] == docs[t].description for t in tables)
    for name in tables:
        schema = pq.read_schema(snapshot / f"{name}.parquet")
        assert schema.metadata[b"description"].decode() == docs[name].description
        for field in schema:
            assert field.metadata, f"{name}.{field.name} has no description in Parquet"
            text = field.metadata[b"description"].decode()
            assert text == docs[name].columns[field.name].text
            assert (name, field.name, text) in columns
    wording = docs["fct_daily_losses"].columns["claimed_personnel"].text
    assert "killed and wounded" in wording


def test_a_csv_beside_every_parquet_table_with_the_same_rows(snapshot, tables) -> None:
    for name, rows in tables.items():
        with open(snapshot / f"{name}.csv", newline="", encoding="utf-8") as handle:
            records = list(csv.reader(handle))
        assert records[0] == pq.read_schema(snapshot / f"{name}.parquet").names
        assert len(records) - 1 == rows, name
    con = duckdb.connect()
    weekly = str(snapshot / "fct_weekly_losses")
    same = con.execute(
        "select count(*) from (select week_start, named_deaths from read_csv(?) except "
        "select week_start, named_deaths from read_parquet(?))",
        [weekly + ".csv", weekly + ".parquet"],
    ).fetchall()
    assert same == [(0,)]


def test_licences_follow_the_inputs_and_the_citation_names_the_snapshot(snapshot, tables):
    statement = json.loads((snapshot / "licenses.json").read_text())
    by_table = {t["table"]: t for t in statement["tables"]}
    assert set(by_table) == set(tables) and statement["snapshot"] == snapshot.name
    assert by_table["dim_region"]["licence"] == "CC-BY-SA-4.0"  # hflabs regions, share-alike
    assert any("census_men" in u for u in by_table["dim_region"]["unlicensed"])
    territory = by_table["fct_territory_snapshots"]
    assert territory["licence"] == "GPL-3.0-only"  # cyterat's pre-filtered maps
    assert any("full-layer exports" in u for u in territory["unlicensed"])
    estimates = by_table["fct_published_estimates"]
    assert estimates["licence"] == "CC-BY-4.0" and estimates["unlicensed"] == []
    assert any("The Economist" in o for o in estimates["obligations"])
    assert f"Licences of snapshot {snapshot.name}" in (snapshot / "LICENSES.md").read_text()

    cff = yaml.safe_load((snapshot / "CITATION.cff").read_text())
    assert cff["version"] == snapshot.name and cff["type"] == "dataset"
    assert len(cff["references"]) >= 10  # every source (territory twice: two licences)
    text = (snapshot / "CITATION.txt").read_text()
    assert f"Snapshot {snapshot.name}" in text and "DeepStateMap.live" in text


def test_toll_cite_prints_the_citation_and_the_licences(demo_baseline, snapshot) -> None:
    _, warehouse = demo_baseline
    text = run_cli("cite", "--warehouse", str(warehouse))
    assert text.returncode == 0, text.stderr
    assert text.stdout == (snapshot / "CITATION.txt").read_text()
    licences = run_cli("cite", "--licences", "--warehouse", str(warehouse))
    assert "| `dim_region` | CC BY-SA 4.0 |" in licences.stdout
    missing = run_cli("cite", "20200101T000000000000Z", "--warehouse", str(warehouse))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr + missing.stdout


def test_a_demo_report_says_invented_in_its_title_charts_and_file_names(snapshot) -> None:
    from flows.s6_report import REPORT_DIR, REPORT_HTML, SUMMARY_MD
    from flows.s6_report.charts import CHARTS

    report = snapshot / REPORT_DIR
    for name in CHARTS:
        assert (report / f"INVENTED-{name}").exists(), name
        data = report / f"INVENTED-{name.removesuffix('.png')}.csv"
        assert data.exists() and len(data.read_text().splitlines()) > 1, data
        assert not (report / name).exists(), name
    html = (report / REPORT_HTML).read_text(encoding="utf-8")
    assert "<h1>INVENTED SAMPLE DATA" in html and "<title>INVENTED SAMPLE DATA" in html
    assert (report / SUMMARY_MD).read_text(encoding="utf-8").startswith("# INVENTED SAMPLE DATA")


def test_a_demo_credits_no_real_source_and_its_headline_says_invented(snapshot) -> None:
    from flows.s6_report import invented, mark_invented
    from flows.s6_report.charts import CHARTS
    from flows.s6_report.figures import read_figures
    from flows.s6_report.headline import headline

    metadata = json.loads((snapshot / METADATA).read_text())
    assert invented(metadata)
    con = duckdb.connect(str(snapshot / "toll.duckdb"), read_only=True)
    try:
        fig = read_figures(con, metadata["settings"])
    finally:
        con.close()
    for name, build in CHARTS.items():
        title = mark_invented(build(fig)).title
        assert title.text.startswith("INVENTED SAMPLE DATA"), name
        assert not any(line.startswith("Source:") for line in title.subtitle), name
        assert title.subtitle[-1].startswith("Not real data: invented by toll"), name
    assert headline(snapshot)["invented"] is True
