"""Territory from the DeepState maps: the series checks, caching, and the real snapshots."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from helpers.fault_server import FaultServer

from flows.config import load_settings
from flows.s1_sources.catalogue import load_catalogue
from flows.s1_sources.samples import sample_map
from flows.s2_ingest import collect
from flows.s2_ingest.collect import ingest_source
from flows.s2_ingest.parsers.deepstate import layer_of
from flows.s3_build.models import discover
from flows.s3_build.runner import build_models
from flows.warehouse.database import connect

OLD_EXACT = {"Окуповано /// Occupied", "Окупований Крим /// Occupied Crimea"}
OLD_EXACT |= {"ОРДЛО /// CADR and CALR"}


def _series(rows: list[tuple], limit: float = 1000.0) -> list[tuple]:
    con = duckdb.connect()
    con.execute("set variable territory_max_change_km2_per_week = ?", [limit])
    con.execute(
        "create table stg_territory_snapshots (snapshot varchar, snapshot_utc timestamp,"
        " map_format varchar, occupied_km2 double)"
    )
    con.executemany("insert into stg_territory_snapshots values (?, ?, ?, ?)", rows)
    sql = discover()["int_territory_series"].sql.strip().rstrip(";")
    return con.execute(f"select snapshot, change_km2 from ({sql}) order by snapshot_utc").fetchall()


def test_series_prefers_full_layer_and_extends_with_prefiltered_after_it() -> None:
    rows = [
        ("a.geojson", datetime(2025, 7, 27, 20), "full_layer", 114_223.0),
        ("d_0728.geojson", datetime(2025, 7, 28, 3), "prefiltered", 114_224.0),
        ("b.geojson", datetime(2025, 8, 3, 20), "full_layer", 114_325.0),
        ("d_0804.geojson", datetime(2025, 8, 4, 3), "prefiltered", 114_306.0),
        ("d_0811.geojson", datetime(2025, 8, 11, 3), "prefiltered", 114_448.0),
    ]
    series = _series(rows)
    assert [s for s, _ in series] == ["a.geojson", "b.geojson", "d_0804.geojson", "d_0811.geojson"]
    assert series[1][1] == pytest.approx(102.0)


def test_implausible_jump_stops_the_build_naming_both_snapshots() -> None:
    rows = [
        ("1711314501.geojson", datetime(2024, 3, 24, 21), "full_layer", 108_759.0),
        ("1711917948.geojson", datetime(2024, 3, 31, 20), "full_layer", 81_000.0),
    ]
    with pytest.raises(duckdb.Error, match=r"1711917948\.geojson.*1711314501\.geojson"):
        _series(rows)
    # the same change is plausible over a long enough gap (limit grows with time)
    rows[1] = ("late.geojson", datetime(2025, 3, 31, 20), "full_layer", 81_000.0)
    assert len(_series(rows)) == 2


def _mini_catalogue(real_data: Path, tmp: Path, count: int) -> Path:
    """A catalogue with only the territory source and its first `count` files."""
    source = load_catalogue()["territory"]
    lines = [
        "[sources.territory]",
        f'title = "{source.title}"',
        f'format = "{source.format}"',
        'licence = "test"',
    ]
    for spec in source.files[:count]:
        lines += [
            "[[sources.territory.files]]",
            f'local = "{spec.local}"',
            f'url = "{spec.url}"',
            f'sha256 = "{spec.sha256}"',
            f'as_of = "{spec.as_of}"',
        ]
    path = tmp / f"sources-{count}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.realdata
def test_nightly_with_one_new_map_parses_only_that_map(real_data, tmp_path, monkeypatch) -> None:
    parsed: list[str] = []
    original = collect.parse_many

    def counting(format_name, source, files, max_workers=None):
        parsed.extend(file for file, _ in files)
        return original(format_name, source, files, max_workers)

    monkeypatch.setattr(collect, "parse_many", counting)
    settings = load_settings(source_dir=real_data, warehouse=tmp_path / "warehouse")
    first = load_catalogue(_mini_catalogue(real_data, tmp_path, 5))["territory"]
    assert len(ingest_source(settings, first, datetime.now(UTC)).new) == 5
    assert len(parsed) == 5
    parsed.clear()
    second = load_catalogue(_mini_catalogue(real_data, tmp_path, 6))["territory"]
    outcome = ingest_source(settings, second, datetime.now(UTC))
    assert [f.file for f in outcome.new] == [second.files[5].local]
    assert parsed == [second.files[5].local]
    # the raw layer keeps the upstream bytes (the local copy is their gzip) under their sha256
    stored = next((tmp_path / "warehouse" / "raw" / "territory").rglob("1703453899.geojson"))
    assert stored.read_bytes() == gzip.decompress((real_data / first.files[0].local).read_bytes())


@pytest.fixture(scope="module")
def built(real_data, tmp_path_factory):
    """Every real source ingested and every model built (no gate, no publish)."""
    warehouse = tmp_path_factory.mktemp("territory")
    settings = load_settings(source_dir=real_data, warehouse=warehouse)
    catalogue = load_catalogue()
    for source in catalogue.values():
        ingest_source(settings, source, datetime.now(UTC))
    con = connect()
    build_models(con, warehouse, catalogue, variables=settings.result_affecting())
    yield con
    con.close()


@pytest.mark.realdata
@pytest.mark.slow
def test_old_label_matching_would_give_zero_after_march_2024_but_toll_does_not(
    real_data, built
) -> None:
    folder = real_data / "deepstate/deepstatemaps_history_weekly"
    areas = dict(
        built.execute("select snapshot, occupied_km2 from stg_territory_snapshots").fetchall()
    )
    after = 0
    for path in sorted(folder.glob("*.geojson.gz")):
        if int(path.name.split(".")[0]) < datetime(2024, 3, 24, tzinfo=UTC).timestamp():
            continue
        names = [
            (f["properties"].get("name") or "")
            for f in json.loads(gzip.decompress(path.read_bytes()))["features"]
        ]
        old_only = [n for n in names if n.strip().replace("\xa0", " ") in OLD_EXACT]
        ours = [n for n in names if layer_of(n) in ("occupied", "occupied_crimea", "cadr_calr")]
        assert old_only == [], path.name  # the old labels are gone ...
        assert len(ours) >= 8, path.name  # ... yet every occupied polygon is recognised
        assert areas[path.name.removesuffix(".gz")] > 100_000
        after += 1
    assert after >= 70


@pytest.mark.realdata
@pytest.mark.slow
def test_series_is_continuous_and_yearly_gain_equals_weekly_gains(built) -> None:
    weeks = built.execute(
        "select week_start, occupied_km2, km2_gained from fct_weekly_losses"
        " where week_start >= date '2023-12-18' and week_start <= date '2026-08-10'"
        " order by week_start"
    ).fetchall()
    assert all(km2 is not None for _, km2, _ in weeks), "a week without a map value"
    assert all(abs(gained) < 1000 for _, _, gained in weeks[1:])
    daily = dict(built.execute("select date, occupied_km2 from fct_daily_losses").fetchall())
    weekly_2024 = sum(g for week, _, g in weeks if week.isocalendar().year == 2024)
    yearly = built.execute(
        "select km2_gained from fct_yearly_summary where period_type = 'calendar'"
        " and period = '2024'"
    ).fetchone()[0]
    # ISO 2024 ends on Sunday 2024-12-29; the calendar year two days later
    tail = daily[date(2024, 12, 31)] - daily[date(2024, 12, 29)]
    assert yearly == pytest.approx(weekly_2024 + tail)
    assert yearly == pytest.approx(daily[date(2024, 12, 31)] - daily[date(2023, 12, 31)])


@pytest.mark.realdata
@pytest.mark.slow
def test_published_area_comes_from_the_snapshot_of_that_day(built) -> None:
    rows = dict(
        (d, (km2, snapshot))
        for d, km2, snapshot in built.execute(
            "select date, occupied_km2, occupied_snapshot from fct_daily_losses"
            " where date in ('2024-01-01', '2025-01-01')"
        ).fetchall()
    )
    snapshots = dict(
        built.execute("select snapshot, occupied_km2 from stg_territory_snapshots").fetchall()
    )
    # the last snapshot before the end of each day: 2023-12-31 21:19 and 2024-12-31 20:53 UTC
    assert rows[date(2024, 1, 1)] == (snapshots["1704057558.geojson"], "1704057558.geojson")
    assert rows[date(2025, 1, 1)] == (snapshots["1735678434.geojson"], "1735678434.geojson")
    assert 100_000 < rows[date(2024, 1, 1)][0] < rows[date(2025, 1, 1)][0] < 125_000


@pytest.mark.realdata
@pytest.mark.slow
def test_two_formats_agree_and_economist_gap_is_reported(built) -> None:
    pairs, worst, agree, economist = built.execute(
        "select count(prefiltered_km2), max(abs(format_gap_km2)), bool_and(formats_agree),"
        " count(economist_gap_km2) from fct_territory_snapshots"
    ).fetchone()
    assert pairs >= 40  # full-layer Sunday evening beside the pre-filtered Monday 03:00 file
    assert worst < 50 and agree
    assert economist >= 100


def test_upstream_run_fetches_the_days_prefiltered_file_and_skips_one_not_published(
    tmp_path,
) -> None:

    today = datetime.now(UTC).date()
    root = tmp_path / "upstream"
    name = f"deepstatemap_data_{today:%Y%m%d}.geojson"
    (root / "data").mkdir(parents=True)
    instant = datetime(today.year, today.month, today.day, 3, tzinfo=UTC)
    (root / "data" / name).write_bytes(gzip.decompress(sample_map(instant, full=False)))
    with FaultServer(root=root) as server:
        template = server.url("data/deepstatemap_data_") + "{date:%Y%m%d}.geojson"
        catalogue = tmp_path / "sources.toml"
        catalogue.write_text(
            "[sources.territory]\ntitle = 't'\nformat = 'deepstate_geojson'\nlicence = 't'\n"
            f"daily_url = '{template}'\n"
            "daily_local = 'deepstate/daily/deepstatemap_data_{date:%Y%m%d}.geojson'\n"
            "files = []\n"
        )
        source = load_catalogue(catalogue)["territory"]
        settings = load_settings(warehouse=tmp_path / "warehouse", http_retries=1)
        first = ingest_source(settings, source, datetime.now(UTC))
        again = ingest_source(settings, source, datetime.now(UTC))
    # yesterday's file is not there (404): skipped, not an error
    assert [f.file for f in first.new] == [f"deepstate/daily/{name}"]
    assert first.new[0].rows == 1
    assert again.new == [] and [f.status for f in again.files] == ["unchanged"]
