"""Ingest of many map files: a nightly with one new map reads, hashes and parses only that map."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from flows.config import load_settings
from flows.s1_sources.catalogue import load_catalogue
from flows.s2_ingest import collect, parallel
from flows.warehouse import raw_store

FIRST = date(2025, 1, 6)
AN_HOUR_AGO = time.time() - 3600


def _map(lon: float) -> bytes:
    ring = [[lon, 48.0], [lon + 1, 48.0], [lon + 1, 49.0], [lon, 49.0], [lon, 48.0]]
    geometry = {"type": "MultiPolygon", "coordinates": [[ring]]}
    feature = {"type": "Feature", "properties": {}, "geometry": geometry}
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


def _local(day: int) -> str:
    return f"maps/deepstatemap_data_{FIRST + timedelta(days=day):%Y%m%d}.geojson"


def _write_map(source_dir: Path, day: int, lon: float, mtime: float = AN_HOUR_AGO) -> None:
    path = source_dir / _local(day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_map(lon))
    # an old modification time: a file written this instant is always read (racy rule)
    os.utime(path, (mtime, mtime))


def _catalogue(tmp: Path, days: int) -> Path:
    # local copies without checksum pins, like the benchmark's generated daily maps
    lines = ["[sources.territory]", 'title = "maps"', 'format = "deepstate_geojson"']
    lines += ['licence = "test"']
    for day in range(days):
        lines += ["[[sources.territory.files]]", f'local = "{_local(day)}"']
        lines += [f'url = "https://example.invalid/{day}"', f'as_of = "{FIRST + timedelta(day)}"']
    path = tmp / f"sources-{days}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def counted(monkeypatch) -> dict[str, list]:
    """Which local files are read and hashed, parsed, and which manifest entries are parsed."""
    seen: dict[str, list] = {"read": [], "parsed": [], "manifest": []}
    fetch, parse, entry = collect.fetch_bytes, collect.parse_many, raw_store.manifest_entries

    def fetch_bytes(source, url, **kwargs):
        seen["read"].append(Path(url).name)
        return fetch(source, url, **kwargs)

    def parse_many(format_name, source, files, max_workers=None):
        seen["parsed"] += [Path(file).name for file, _ in files]
        return parse(format_name, source, files, max_workers)

    def manifest_entry(name, content):
        found = entry(name, content)
        seen["manifest"] += [name] * len(found)  # a file of a batch holds several entries
        return found

    monkeypatch.setattr(collect, "fetch_bytes", fetch_bytes)
    monkeypatch.setattr(collect, "parse_many", parse_many)
    monkeypatch.setattr(raw_store, "manifest_entries", manifest_entry)
    return seen


def _ingest(tmp: Path, days: int) -> collect.SourceOutcome:
    settings = load_settings(
        source_dir=tmp / "sources", warehouse=tmp / "warehouse", catalogue=_catalogue(tmp, days)
    )
    source = load_catalogue(settings.catalogue)["territory"]
    return collect.ingest_source(settings, source, datetime.now(UTC))


def test_one_new_map_is_the_only_file_read_hashed_or_parsed(tmp_path, counted) -> None:
    for day in range(6):
        _write_map(tmp_path / "sources", day, 30 + day)
    assert len(_ingest(tmp_path, 6).new) == 6
    assert len(counted["read"]) == len(counted["parsed"]) == 6
    for found in counted.values():
        found.clear()

    _write_map(tmp_path / "sources", 6, 36)
    outcome = _ingest(tmp_path, 7)
    new = Path(_local(6)).name
    assert [Path(f.file).name for f in outcome.new] == [new]
    assert counted["read"] == [new] and counted["parsed"] == [new]
    # the six entries stored together, in one file parsed once in all (it was once per
    # declared file: quadratic)
    assert len(counted["manifest"]) == 6 and len(set(counted["manifest"])) == 1
    for found in counted.values():
        found.clear()

    # nothing new: nothing read; of the manifest only the entry written since is parsed
    assert _ingest(tmp_path, 7).new == []
    assert counted["read"] == counted["parsed"] == [] and len(counted["manifest"]) == 1


def test_files_an_ingest_part_stored_for_this_run_are_not_fetched_again(tmp_path, counted) -> None:
    """The run that called `ingest-part` runs finds their files stored under its own time."""
    from dataclasses import replace

    for day in range(5):
        _write_map(tmp_path / "sources", day, 30 + day)
    settings = load_settings(
        source_dir=tmp_path / "sources",
        warehouse=tmp_path / "warehouse",
        catalogue=_catalogue(tmp_path, 5),
    )
    source = load_catalogue(settings.catalogue)["territory"]
    fetched_at = datetime.now(UTC)
    # a part of the first three files, on "another host": its local-stat cache is not ours
    collect.ingest_source(settings, replace(source, files=source.files[:3]), fetched_at)
    (tmp_path / "warehouse" / "cache").rename(tmp_path / "elsewhere")
    for found in counted.values():
        found.clear()
    outcome = collect.ingest_source(settings, source, fetched_at)
    rest = [Path(_local(day)).name for day in (3, 4)]
    assert counted["read"] == rest and counted["parsed"] == rest
    assert len(outcome.new) == 5  # all new to this run (the parts' rejects are its own)
    assert [f.detail for f in outcome.new[:3]] == ["parsed by an ingest-part run"] * 3
    # a later run (another time) does not take them for its own
    assert collect.ingest_source(settings, source, datetime.now(UTC)).new == []


def test_a_local_copy_rewritten_is_read_again(tmp_path, counted) -> None:
    for day in range(3):
        _write_map(tmp_path / "sources", day, 30 + day)
    _ingest(tmp_path, 3)
    counted["read"].clear()
    # new content (same size, one digit differs) and an mtime one second later
    _write_map(tmp_path / "sources", 1, 39, mtime=AN_HOUR_AGO + 1)
    # the same bytes written again, with a new mtime
    _write_map(tmp_path / "sources", 2, 32, mtime=AN_HOUR_AGO + 1)
    outcome = _ingest(tmp_path, 3)
    assert sorted(counted["read"]) == [Path(_local(1)).name, Path(_local(2)).name]
    assert [Path(f.file).name for f in outcome.new] == [Path(_local(1)).name]
    counted["read"].clear()
    # both are known again by their new stat
    assert _ingest(tmp_path, 3).new == [] and counted["read"] == []


def test_a_file_just_written_is_not_trusted_by_its_stat(tmp_path, counted) -> None:
    _write_map(tmp_path / "sources", 0, 30, mtime=time.time())
    _ingest(tmp_path, 1)
    counted["read"].clear()
    _ingest(tmp_path, 1)
    assert counted["read"] == [Path(_local(0)).name]


def test_a_link_leaving_the_source_folder_is_refused_without_quoting_it(tmp_path) -> None:
    from flows.errors import ConfigError

    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("password=hunter2\n")
    source_dir = tmp_path / "data"
    (source_dir / "bessudnov").mkdir(parents=True)
    (source_dir / "bessudnov" / "regNames.csv").symlink_to(secret)
    inside = source_dir / "bessudnov" / "census2021_nMen16-615.csv"
    (source_dir / "real.csv").write_text("x\n")
    inside.symlink_to(source_dir / "real.csv")  # a link that stays inside is read as usual
    settings = load_settings(source_dir=source_dir, warehouse=tmp_path / "wh")
    catalogue = load_catalogue()
    census = catalogue["census_men"].files[0]
    assert census.location(settings).startswith("file://")
    with pytest.raises(ConfigError, match="outside the source folder") as refused:
        catalogue["region_names"].files[0].location(settings)
    assert "hunter2" not in str(refused.value)


def _two_census_sources(tmp: Path) -> tuple[object, dict]:
    """Two sources of one small CSV each (the census format), read from local copies."""
    lines = []
    for name in ("census_a", "census_b"):
        folder = tmp / "sources" / name
        folder.mkdir(parents=True)
        (folder / "census.csv").write_text(
            "region,nMen16_615_2021,regNameEng,regNameISO\nAltai,1000,Altai Krai,RU-ALT\n"
        )
        lines += [f"[sources.{name}]", 'title = "census"', 'format = "bessudnov_census"']
        lines += ['licence = "test"', f"[[sources.{name}.files]]", f'local = "{name}/census.csv"']
        lines += [f'url = "https://example.invalid/{name}.csv"']
    catalogue = tmp / "sources.toml"
    catalogue.write_text("\n".join(lines) + "\n")
    settings = load_settings(
        source_dir=tmp / "sources", warehouse=tmp / "warehouse", catalogue=catalogue
    )
    return settings, load_catalogue(catalogue)


def _parses_at_once(monkeypatch, tmp: Path, wait) -> int:
    """The most parses inside `parse_many` at once when both sources are fetched side by side."""
    settings, catalogue = _two_census_sources(tmp)
    parse, lock = parallel.parse_many, threading.Lock()
    inside, most = [0], [0]

    def parse_many(format_name, source, files, max_workers=None):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            wait()
            return parse(format_name, source, files, max_workers)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(collect, "parse_many", parse_many)
    fetched_at = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(
            pool.map(lambda s: collect.ingest_source(settings, s, fetched_at), catalogue.values())
        )
    assert [len(o.new) for o in outcomes] == [1, 1]
    return most[0]


def test_large_parses_take_turns_small_ones_run_side_by_side(tmp_path, monkeypatch) -> None:
    # small files: both sources parse at once (each waits inside for the other to arrive)
    both = threading.Barrier(2, timeout=10)
    assert _parses_at_once(monkeypatch, tmp_path / "small", both.wait) == 2
    # every file counted as large: one parse at a time, though each lingers inside
    monkeypatch.setattr(collect, "LARGE_PARSE_BYTES", 1)
    assert _parses_at_once(monkeypatch, tmp_path / "large", lambda: time.sleep(0.3)) == 1
