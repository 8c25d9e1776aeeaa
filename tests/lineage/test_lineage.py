"""Lineage, `toll explain` and `toll diff` on sample sources with one known change per run.

Three runs into one warehouse: A on the second-newest Mediazona vintage (`as_of`), B on the
newest (which, unlike the sample's older vintages, holds 50 more names on one day), C the same
data with a wider coverage range.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from helpers.toll_testing import run_cli

from flows.config import load_settings
from flows.lineage import capture
from flows.lineage.capture import column_sources, columns_in_background, rows_from
from flows.lineage.diff import diff_snapshots
from flows.lineage.explain import explain, render
from flows.nightly import nightly
from flows.s1_sources.samples import write_sample_sources
from flows.s3_build.models import Model

pytestmark = pytest.mark.slow

NEWEST = "mediazona/vintages/2026-01-30_cumsum.csv"
EXTRA_NAMES = 50
EXTRA_DAY = date(2022, 6, 2)
WEEK = EXTRA_DAY - timedelta(days=EXTRA_DAY.weekday())  # Monday 2022-05-30


def _add_names(path: Path) -> None:
    """50 more names on EXTRA_DAY, as a later vintage would bring (running totals follow)."""
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    total = 0
    for row in rows:
        if row["date"] == EXTRA_DAY.isoformat():
            row["change"] = str(int(row["change"]) + EXTRA_NAMES)
        total += int(row["change"])
        row["total"] = str(total)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["date", "change", "total"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("lineage")
    sources = write_sample_sources(root / "sources")
    for name in (NEWEST, "mediazona/last_data.csv"):
        _add_names(sources / name)
    warehouse = root / "warehouse"
    base = {"source_dir": sources, "warehouse": warehouse, "verify_checksums": False}
    older = nightly(settings=load_settings(**base, as_of=date(2026, 1, 17)))
    newer = nightly(settings=load_settings(**base))
    wider = nightly(settings=load_settings(**base, coverage_low=0.40))
    return (
        sources,
        warehouse,
        Path(older.snapshot),
        Path(newer.snapshot),
        Path(wider.snapshot),
    )


def test_snapshot_records_sources_commit_settings_and_run(runs):
    sources, _, _, newer, _ = runs
    meta = json.loads((newer / "_snapshot.json").read_text())
    lineage = json.loads((newer / "_lineage.json").read_text())
    assert meta["run"]["flow_run_id"] and lineage["run"] == meta["run"]
    assert meta["git_commit"] == lineage["git_commit"]
    assert meta["git_commit"] is None or len(meta["git_commit"].split("+")[0]) == 40
    assert lineage["settings"]["coverage_low"] == 0.45 and lineage["settings"]["as_of"] is None
    files = {f["file"]: f for f in lineage["raw"]["raw_mediazona_daily"]["files"]}
    digest = hashlib.sha256((sources / NEWEST).read_bytes()).hexdigest()
    assert files[NEWEST]["sha256"] == digest
    assert {"url", "fetched_at", "as_of", "rows"} <= set(files[NEWEST])
    weekly = lineage["models"]["fct_weekly_losses"]
    assert weekly["path"] == "sql/marts/fct_weekly_losses.sql" and weekly["keys"] == ["week_start"]
    assert "fct_daily_losses" in weekly["depends_on"]
    assert "stg_mediazona_daily" in weekly["rows_from"]


def test_explain_names_both_vintages_of_a_changed_week(runs):
    _, _, older, newer, _ = runs
    result = explain(
        newer.parent.parent, newer, "fct_weekly_losses", {"week_start": WEEK.isoformat()}
    )
    named = next(m for m in result["measures"] if m["measure"] == "named_deaths")
    before = next(h for h in named["earlier_snapshots"] if h["snapshot"] == older.name)
    assert named["value"] == before["value"] + EXTRA_NAMES
    # the sample's vintages repeat one content from 2024-11-23 on: A's newest is that one
    files_a = json.loads((older / "_lineage.json").read_text())["raw"]["raw_mediazona_daily"]
    vintage_a = max(f["as_of"] for f in files_a["files"])
    assert str(before["as_of"]) == vintage_a < "2026-01-30"
    # within the one snapshot too: the week in each vintage, from fct_named_vintages
    moves = named["by_vintage"]["changes"]
    assert named["by_vintage"]["table"] == "fct_named_vintages"
    assert (str(moves[-1]["as_of"]), moves[-1]["value"]) == ("2026-01-30", named["value"])
    assert moves[-2]["value"] == before["value"] and str(moves[-2]["as_of"]) <= vintage_a
    files = named["raw_files"]
    assert [(f["source"], f["file"], f["as_of"]) for f in files] == [
        ("mediazona_daily", NEWEST, "2026-01-30")
    ]
    assert files[0]["rows_contributed"] == named["raw_rows"] == 7  # the seven days of the week
    chain = json.dumps(named["chain"])
    for step in ("fct_daily_losses.named_deaths", "stg_mediazona_daily.named_deaths"):
        assert step in chain
    assert "raw_mediazona_daily.change" in chain
    assert "raw_mediazona_daily" in named["expectations"]["upstream"]
    claimed = next(m for m in result["measures"] if m["measure"] == "claimed_personnel")
    assert {f["source"] for f in claimed["raw_files"]} == {"official_claims"}
    text = render(result)
    assert "2026-01-30" in text and vintage_a in text and NEWEST in text


def test_explain_rejects_unknown_rows_and_tables(runs):
    from flows.errors import TollError

    _, _, _, newer, _ = runs
    with pytest.raises(TollError, match="no row with week_start=1999-01-04"):
        explain(newer.parent.parent, newer, "fct_weekly_losses", {"week_start": "1999-01-04"})
    with pytest.raises(TollError, match="no published table 'stg_mediazona_daily'"):
        explain(newer.parent.parent, newer, "stg_mediazona_daily", {"death_date": "2022-06-02"})
    with pytest.raises(TollError, match="more than one row"):
        explain(newer.parent.parent, newer, "fct_regional_losses", {"region_code": "RU-TY"})


def test_diff_attributes_changed_weeks_to_the_new_vintage(runs):
    _, _, older, newer, _ = runs
    result = diff_snapshots(older, newer)
    tables = {t["table"]: t for t in result["tables"]}
    weekly = tables["fct_weekly_losses"]
    named = weekly["columns_changed"]["named_deaths"]
    assert named["rows"] == 1
    assert named["largest"][0]["key"] == {"week_start": WEEK.isoformat()}
    assert named["largest"][0]["delta"] == EXTRA_NAMES
    assert named["causes"] == ["new vintage of mediazona_daily"]
    assert "claimed_personnel" not in weekly["columns_changed"]
    for table in ("fct_regional_losses", "dim_region"):
        assert (tables[table]["added"], tables[table]["removed"], tables[table]["changed"]) == (
            0,
            0,
            0,
        )
        assert tables[table]["causes"] == []
    kinds = {(c["kind"], c["subject"]) for c in result["causes"]}
    assert ("new vintage", "raw_mediazona_daily") in kinds
    assert ("changed configuration", "as_of") in kinds
    # largest first: tables with more changed rows come before the unchanged ones
    changed = [t["added"] + t["removed"] + t["changed"] for t in result["tables"]]
    assert changed == sorted(changed, reverse=True)


def test_diff_names_the_coverage_setting_as_cause_of_changed_estimates(runs):
    _, _, _, newer, wider = runs
    result = diff_snapshots(newer, wider)
    assert [(c["kind"], c["subject"]) for c in result["causes"]] == [
        ("changed configuration", "coverage_low")
    ]
    tables = {t["table"]: t for t in result["tables"]}
    yearly = tables["fct_yearly_summary"]["columns_changed"]
    assert yearly["estimate_high"]["causes"] == ["changed configuration of coverage_low"]
    assert "estimate_low" not in yearly and "named_deaths" not in yearly
    assert tables["fct_weekly_losses"]["changed"] == 0


def test_every_run_keeps_a_what_changed_note(runs):
    _, _, older, newer, wider = runs
    assert "first one published" in (older / "_changes.md").read_text()
    note = (newer / "_changes.md").read_text()
    assert f"`{older.name}`" in note and f"`{newer.name}`" in note
    assert "new vintage" in note and "fct_weekly_losses" in note
    assert "coverage_low: 0.45 -> 0.4" in (wider / "_changes.md").read_text()


def test_changes_artifact_is_published(runs):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["what-changed"]))
        )
    assert any("coverage_low" in (a.data or "") for a in found)


def test_cli_explain_and_diff(runs):
    _, warehouse, older, newer, _ = runs
    shown = run_cli(
        "explain",
        "fct_weekly_losses",
        "--key",
        f"week_start={WEEK}",
        "--measure",
        "named_deaths",
        "--snapshot",
        newer.name,
        "--warehouse",
        str(warehouse),
        "--json",
    )
    assert shown.returncode == 0, shown.stderr
    result = json.loads(shown.stdout)
    assert [m["measure"] for m in result["measures"]] == ["named_deaths"]
    compared = run_cli("diff", older.name, newer.name, "--warehouse", str(warehouse))
    assert compared.returncode == 0, compared.stderr
    assert "new vintage" in compared.stdout and "fct_weekly_losses" in compared.stdout
    wrong = run_cli(
        "explain", "fct_weekly_losses", "--key", "week_start", "--warehouse", str(warehouse)
    )
    assert wrong.returncode == 1 and "COLUMN=VALUE" in wrong.stderr


def test_column_sources_follow_ctes_and_settings():
    con = duckdb.connect()
    con.execute("set variable coverage_low = 0.45")
    con.execute("create view raw_x as select 1 as a, 2 as b, date '2024-01-01' as d")
    sql = {
        "stg_x": "select a as named, b as claimed, d as day from raw_x",
        "fct_y": (
            "-- key: day\n-- rows from stg_x: day = {day}\n"
            "with s as (select * from stg_x) "
            "select day, named / getvariable('coverage_low') as estimate, claimed from s"
        ),
        "fct_z": (
            "with s as (select * from stg_x), counted as (select day, count(*) as n from s"
            " group by day) select day, n from counted"
        ),
    }
    models = []
    for name, text in sql.items():
        layer = "staging" if name.startswith("stg") else "marts"
        deps = frozenset({"raw_x"} if layer == "staging" else {"stg_x"})
        models.append(Model(name, layer, Path(f"{name}.sql"), text, deps))
        kind = "view" if layer == "staging" else "table"
        con.execute(f"create {kind} {name} as {text}")
    found = column_sources(con, models)
    assert found["fct_y"]["estimate"] == {"from": ["stg_x.named"], "settings": ["coverage_low"]}
    assert found["fct_y"]["claimed"] == {"from": ["stg_x.claimed"], "settings": []}
    assert found["stg_x"]["named"]["from"] == ["raw_x.a"]
    # a count(*) has no column to trace: it depends on every row of what its CTE reads
    assert found["fct_z"]["n"]["from"] == ["stg_x.*"]
    assert rows_from(models[1]) == {"stg_x": "day = {day}"}
    # traced in a child process while the gate runs: the same answer, in the same order
    traced = columns_in_background(con, models)()
    assert traced == found
    assert [list(c) for c in traced.values()] == [list(c) for c in found.values()]


def test_column_lineage_child_failure_traces_here(monkeypatch, caplog, tmp_path) -> None:
    """A child that cannot run (here: no such interpreter) costs time, not the lineage."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    con = duckdb.connect()
    con.execute("create view raw_x as select 1 as a")
    con.execute("create view stg_x as select a as named from raw_x")
    models = [
        Model(
            "stg_x",
            "staging",
            Path("stg_x.sql"),
            "select a as named from raw_x",
            frozenset({"raw_x"}),
        )
    ]
    monkeypatch.setattr(capture.sys, "executable", "/bin/false")
    assert columns_in_background(con, models)() == column_sources(con, models)
    assert "traced here instead" in caplog.text


def _lineage(sql_sha: str, claims_sha: str, coverage: float) -> dict:
    def model(deps, columns, settings=()):
        return {
            "path": "sql/x.sql",
            "sha256": "s",
            "depends_on": deps,
            "published": True,
            "keys": ["day"],
            "settings": list(settings),
            "columns": columns,
        }

    return {
        "git_commit": "abc",
        "settings": {"coverage_low": coverage},
        "raw": {
            "raw_claims": {
                "source": "official_claims",
                "files": [{"file": "claims.json", "sha256": claims_sha, "as_of": "2026-01-01"}],
            },
            "raw_named": {
                "source": "mediazona_daily",
                "files": [{"file": "v1.csv", "sha256": "n1", "as_of": "2025-01-01"}],
            },
        },
        "models": {
            "stg_claims": {
                **model(["raw_claims"], {"claimed": {"from": ["raw_claims.p"], "settings": []}}),
                "sha256": sql_sha,
            },
            "fct_day": model(
                ["stg_claims", "raw_named"],
                {
                    "claimed": {"from": ["stg_claims.claimed"], "settings": []},
                    "estimate": {"from": ["raw_named.change"], "settings": ["coverage_low"]},
                },
                ["coverage_low"],
            ),
        },
    }


def test_causes_name_changed_models_files_and_settings_only_where_they_reach():
    from flows.lineage.capture import reach
    from flows.lineage.diff import _relevant, causes_between

    before, after = _lineage("m1", "c1", 0.45), _lineage("m2", "c2", 0.4)
    causes = causes_between(before, after)
    assert {(c["kind"], c["subject"]) for c in causes} == {
        ("changed model", "stg_claims"),
        ("changed raw file", "raw_claims"),
        ("changed configuration", "coverage_low"),
    }
    claimed = _relevant(causes, reach(after, "fct_day", "claimed"))
    assert {c["kind"] for c in claimed} == {"changed model", "changed raw file"}
    estimate = _relevant(causes, reach(after, "fct_day", "estimate"))
    assert [c["subject"] for c in estimate] == ["coverage_low"]
    assert causes_between(before, before) == []


def test_diff_reports_a_column_added_between_snapshots(runs, tmp_path):
    import shutil

    import polars as pl

    from flows.lineage.diff import render_markdown

    _, _, _, newer, _ = runs
    before, after = tmp_path / "20260101T000000Z", tmp_path / "20260102T000000Z"
    shutil.copytree(newer, before)
    shutil.copytree(newer, after)
    table = after / "dim_region.parquet"
    pl.read_parquet(table).with_columns(pl.lit(1).alias("extra")).write_parquet(table)
    result = diff_snapshots(before, after)
    region = next(t for t in result["tables"] if t["table"] == "dim_region")
    assert region["columns_added"] == ["extra"] and region["changed"] == 0
    assert "- column(s) added: `extra`" in render_markdown(result)


def test_diff_names_a_table_missing_from_both_snapshots(runs, tmp_path):
    import shutil

    from flows.errors import TollError

    _, _, _, newer, _ = runs
    before, after = tmp_path / "20260101T000000Z", tmp_path / "20260102T000000Z"
    for copy in (before, after):
        shutil.copytree(newer, copy)
        (copy / "dim_region.parquet").unlink()
    with pytest.raises(TollError, match=r"table dim_region .* in neither"):
        diff_snapshots(before, after)


def test_explain_and_diff_on_s3_equal_the_local_folder(runs, tmp_path, monkeypatch):
    """The same published snapshots as objects on S3 (moto, loopback): `toll explain` and
    `toll diff` read them through this host's mirror and answer exactly as on the folder."""
    from helpers.moto_s3 import CREDENTIALS, moto_server, new_bucket

    from flows.warehouse.layout import Warehouse
    from flows.warehouse.snapshots import point_current
    from flows.warehouse.storage import S3Storage

    _, warehouse, older, newer, _ = runs
    explain_args = ["explain", "fct_weekly_losses", "--key", f"week_start={WEEK}", "--json"]
    commands = [
        [*explain_args, "--snapshot", newer.name],
        ["diff", older.name, newer.name, "--json"],
    ]
    with moto_server() as endpoint:
        env = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "XDG_CACHE_HOME": str(tmp_path)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        url = f"s3://{new_bucket(endpoint)}/wh"
        remote = Warehouse(S3Storage(url, endpoint_url=endpoint, cache=tmp_path / "unused"))
        for snapshot in (older, newer):
            # data first, manifest last, as publish writes them
            files = sorted(snapshot.rglob("*"), key=lambda p: p.name == "_snapshot.json")
            for path in files:
                if path.is_file():
                    key = f"snapshots/{snapshot.name}/{path.relative_to(snapshot).as_posix()}"
                    assert remote.storage.create(key, path.read_bytes())
        point_current(remote, newer.name)
        for args in commands:
            local = run_cli(*args, "--warehouse", str(warehouse))
            on_s3 = run_cli(*args, env={**env, "TOLL_WAREHOUSE": url})
            assert local.returncode == 0 and on_s3.returncode == 0, (local.stderr, on_s3.stderr)
            assert json.loads(on_s3.stdout) == json.loads(local.stdout)
            if args[0] == "explain":  # the older snapshot's value came from the mirror too
                history = json.loads(on_s3.stdout)["measures"][0]["earlier_snapshots"]
                assert [h["snapshot"] for h in history] == [older.name]
        assert (tmp_path / "toll" / "s3" / url.removeprefix("s3://") / "snapshots").is_dir()


def test_column_lineage_traced_once_per_models_and_columns(monkeypatch, tmp_path) -> None:
    """The same SQL and columns are not traced again (no child process); a change is."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    con = duckdb.connect()
    con.execute("create view raw_x as select 1 as a, 2 as b")
    con.execute("create view stg_x as select a as named from raw_x")

    def models(sql: str) -> list[Model]:
        return [Model("stg_x", "staging", Path("stg_x.sql"), sql, frozenset({"raw_x"}))]

    first = columns_in_background(con, models("select a as named from raw_x"))()
    assert first["stg_x"]["named"]["from"] == ["raw_x.a"]
    (kept,) = capture.lineage_cache().iterdir()
    assert capture.lineage_cache().is_relative_to(tmp_path)
    started = []
    real_popen = capture.subprocess.Popen
    monkeypatch.setattr(
        capture.subprocess, "Popen", lambda *a, **k: started.append(a) or real_popen(*a, **k)
    )
    assert columns_in_background(con, models("select a as named from raw_x"))() == first
    assert started == []
    # other SQL (or other columns) is traced again, in a child
    con.execute("create or replace view stg_x as select b as named from raw_x")
    again = columns_in_background(con, models("select b as named from raw_x"))()
    assert again["stg_x"]["named"]["from"] == ["raw_x.b"] and len(started) == 1
    # an unreadable cache file is traced again, not trusted
    kept.write_bytes(b"{not json")
    assert columns_in_background(con, models("select a as named from raw_x"))() != {}
    assert len(started) == 2 and json.loads(kept.read_bytes()) == first
