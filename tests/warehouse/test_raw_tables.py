"""Many small raw files as one table: a build reads the compacted cache plus only new files."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath

import polars as pl
import pytest

from flows.errors import TollError
from flows.s1_sources.catalogue import Source, SourceFile
from flows.s2_ingest.parsing import Parsed
from flows.s3_build.runner import register_raw_tables
from flows.warehouse import raw_tables
from flows.warehouse.database import connect
from flows.warehouse.layout import MANIFEST, Warehouse
from flows.warehouse.raw_store import (
    entries_in_use,
    read_manifest,
    read_raw,
    store,
    store_all,
    stored_together,
)
from flows.warehouse.recovery import leftovers

FIRST = date(2025, 1, 1)


def _source(days: int, keep_all: bool = False) -> Source:
    files = tuple(
        SourceFile(
            "maps",
            f"maps/{day}.json",
            f"https://example.invalid/{day}",
            None,
            FIRST + timedelta(days=day),
        )
        for day in range(days)
    )
    return Source("maps", "maps", "test", "test", files, keep_all_vintages=keep_all)


def _store(warehouse: Path, source: Source, day: int) -> None:
    rows = pl.DataFrame({"day": [day], "km2": [1000.0 + day]})
    rejected = pl.DataFrame(schema={"row": pl.Int64, "reason": pl.String})
    spec = source.files[day]
    content = f"map {day}".encode()
    store(
        warehouse, spec, spec.url, content, f"{day:064d}", Parsed(rows, rejected), datetime.now(UTC)
    )


def _table(warehouse: Path, source: Source, as_of: date | None = None) -> list[tuple]:
    con = connect()
    register_raw_tables(con, warehouse, {"maps": source}, as_of)
    return con.execute("select day, km2 from raw_maps order by day").fetchall()


@pytest.fixture(autouse=True)
def few_files_are_many(monkeypatch) -> None:
    monkeypatch.setattr(raw_tables, "MANY_FILES", 3)


def test_a_new_file_is_the_only_raw_file_read(tmp_path) -> None:
    warehouse = tmp_path / "wh"
    source = _source(5)
    for day in range(4):
        _store(warehouse, source, day)
    assert _table(warehouse, _source(4)) == [(d, 1000.0 + d) for d in range(4)]
    _store(warehouse, source, 4)
    # the old files' rows now come from the cache: their own Parquet files are not opened
    for entry in entries_in_use(warehouse, source):
        if entry.file != source.files[4].local:
            (warehouse / entry.parquet_path).unlink()
    assert _table(warehouse, source) == [(d, 1000.0 + d) for d in range(5)]


def test_only_the_files_in_use_are_in_the_table(tmp_path) -> None:
    warehouse = tmp_path / "wh"
    source = _source(5, keep_all=True)
    for day in range(5):
        _store(warehouse, source, day)
    assert len(_table(warehouse, source)) == 5
    # as of an earlier day the later vintages are not in use, though the cache holds them
    assert _table(warehouse, source, FIRST + timedelta(days=3)) == [
        (d, 1000.0 + d) for d in range(4)
    ]


def test_a_broken_cache_is_read_around(tmp_path) -> None:
    warehouse = tmp_path / "wh"
    source = _source(4)
    for day in range(4):
        _store(warehouse, source, day)
    _table(warehouse, source)
    Warehouse.at(warehouse).cache_path("raw", "raw_maps.parquet").write_bytes(b"not parquet")
    assert _table(warehouse, source) == [(d, 1000.0 + d) for d in range(4)]


@pytest.mark.parametrize(("files", "kind"), [(2, "VIEW"), (11, "BASE TABLE")])
def test_files_not_cached_are_a_view_when_few_else_a_table(
    tmp_path, monkeypatch, files: int, kind: str
) -> None:
    monkeypatch.setattr(raw_tables, "MANY_FILES", 100)  # no cache for these
    warehouse = tmp_path / "wh"
    source = _source(files)
    for day in range(files):
        _store(warehouse, source, day)
    con = connect()
    register_raw_tables(con, warehouse, {"maps": source})
    found = con.execute(
        "select table_type from information_schema.tables where table_name = 'raw_maps'"
    ).fetchone()
    # a view over a few files; a table over many, which the models and the gate query often
    assert found == (kind,)
    rows = [(d, 1000.0 + d) for d in range(files)]
    assert con.execute("select day, km2 from raw_maps order by day").fetchall() == rows
    assert not Warehouse.at(warehouse).cache_path("raw").exists()
    # a rebuild on the same connection replaces either kind
    register_raw_tables(con, warehouse, {"maps": source})
    assert con.execute("select day, km2 from raw_maps order by day").fetchall() == rows


def test_files_stored_together_give_only_the_rows_in_use(tmp_path) -> None:
    warehouse = tmp_path / "wh"
    source = _source(4, keep_all=True)

    def fetch(days: list[int], km2: float) -> list:
        files = [
            (
                source.files[day],
                source.files[day].url,
                f"map {day} {km2}".encode(),
                f"{day}{int(km2):063d}",
                Parsed(pl.DataFrame({"day": [day], "km2": [km2 + day]}), pl.DataFrame()),
            )
            for day in days
        ]
        return store_all(warehouse, files, datetime.now(UTC), together=True)

    first = fetch([0, 1, 2, 3], 1000.0)
    assert len({e.parquet_path for e in first}) == 1 and stored_together(first[0])
    assert _table(warehouse, source) == [(d, 1000.0 + d) for d in range(4)]
    # a later fetch replaces day 2's vintage: the shared file still holds the old rows
    fetch([2], 2000.0)
    assert _table(warehouse, source) == [(0, 1000.0), (1, 1001.0), (2, 2002.0), (3, 1003.0)]
    assert _table(warehouse, source, FIRST + timedelta(days=1)) == [(0, 1000.0), (1, 1001.0)]


def test_rows_stored_together_keep_their_own_file(tmp_path) -> None:
    """Each row carries its own file's sha256 and as_of, files without rows included."""
    source = _source(4, keep_all=True)
    heights = [2, 0, 3, 0]
    files = [
        (
            source.files[day],
            source.files[day].url,
            f"map {day}".encode(),
            f"{day}{0:063d}",
            Parsed(pl.DataFrame({"day": [day] * n}, schema={"day": pl.Int64}), pl.DataFrame()),
        )
        for day, n in enumerate(heights)
    ]
    entries = store_all(tmp_path / "wh", files, datetime.now(UTC), together=True)
    rows = pl.read_parquet(tmp_path / "wh" / entries[0].parquet_path)
    assert rows["day"].to_list() == [0, 0, 2, 2, 2]
    assert rows["file_sha256"].to_list() == [f"{d}{0:063d}" for d in rows["day"]]
    assert rows["as_of"].to_list() == [FIRST + timedelta(days=d) for d in rows["day"]]
    assert [e.rows for e in entries] == heights


def test_bytes_stored_together_are_kept_byte_for_byte_in_one_archive(tmp_path) -> None:
    """One ZIP member per file, its bytes exactly as fetched; files kept alone stay files."""
    warehouse = tmp_path / "wh"
    source = _source(3, keep_all=True)
    contents = [b"day,n\r\n0,1\r\n", bytes(range(256)) * 40, b""]
    files = [
        (
            source.files[day],
            source.files[day].url,
            content,
            hashlib.sha256(content).hexdigest(),
            Parsed(pl.DataFrame({"day": [day]}), pl.DataFrame()),
        )
        for day, content in enumerate(contents)
    ]
    entries = store_all(warehouse, files, datetime(2025, 2, 1, tzinfo=UTC), together=True)
    (archive,) = {e.raw_path for e in entries}
    assert archive.endswith(".zip")
    folder = (warehouse / archive).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [PurePosixPath(archive).name, PurePosixPath(entries[0].parquet_path).name]
    )
    with zipfile.ZipFile(warehouse / archive) as stored:
        assert [i.compress_type for i in stored.infolist()] == [zipfile.ZIP_STORED] * 3
        assert (
            stored.namelist() == [e.raw_member for e in entries] == ["0.json", "1.json", "2.json"]
        )
    for entry, content in zip(read_manifest(warehouse), contents, strict=True):
        assert read_raw(warehouse, entry) == content
        assert hashlib.sha256(read_raw(warehouse, entry)).hexdigest() == entry.sha256
    # the same files stored again at the same moment make the same archive bytes
    again = store_all(tmp_path / "again", files, datetime(2025, 2, 1, tzinfo=UTC), together=True)
    assert (tmp_path / "again" / again[0].raw_path).read_bytes() == (
        warehouse / archive
    ).read_bytes()
    # a file kept on its own has no member, and its manifest entry does not name one
    alone = store(tmp_path / "alone", *files[0][:4], files[0][4], datetime.now(UTC))
    assert alone.raw_member is None and read_raw(tmp_path / "alone", alone) == contents[0]
    (manifest_file,) = (tmp_path / "alone" / MANIFEST).iterdir()
    assert "raw_member" not in json.loads(manifest_file.read_bytes())


def _maps(source: Source, days: list[int]) -> list:
    return [
        (
            source.files[day],
            source.files[day].url,
            f"map {day}".encode(),
            f"{day:064d}",
            Parsed(pl.DataFrame({"day": [day], "km2": [1000.0 + day]}), pl.DataFrame()),
        )
        for day in days
    ]


def test_a_fetch_is_one_folder_and_one_manifest_file(tmp_path) -> None:
    warehouse = tmp_path / "wh"
    source = _source(4)
    fetched_at = datetime.now(UTC)
    stored = store_all(warehouse, _maps(source, [0, 1, 2]), fetched_at)
    (manifest,) = (warehouse / MANIFEST).iterdir()
    assert [e["file"] for e in json.loads(manifest.read_bytes())] == [
        "maps/0.json",
        "maps/1.json",
        "maps/2.json",
    ]
    assert read_manifest(warehouse) == stored
    folder = warehouse / PurePosixPath(stored[0].raw_path).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        n for day in range(3) for n in (f"{day}.json", f"{day}.json.parquet")
    )
    # a file of the same fetch stored later (a part parsed on another host, pulled here)
    # joins the folder; nothing temporary is left beside it
    [late] = store_all(warehouse, _maps(source, [3]), fetched_at)
    assert (warehouse / late.raw_path).read_bytes() == b"map 3"
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    assert leftovers(warehouse) == []
    assert read_manifest(warehouse) == [*stored, late]
    assert _table(warehouse, source) == [(d, 1000.0 + d) for d in range(4)]


def test_manifest_files_of_one_entry_each_still_read(tmp_path) -> None:
    """Warehouses stored before fetches shared a manifest file: one JSON object per file."""
    warehouse = tmp_path / "wh"
    source = _source(3)
    stored = store_all(warehouse, _maps(source, [0, 1, 2]), datetime.now(UTC))
    (batch,) = (warehouse / MANIFEST).iterdir()
    for n, entry in enumerate(json.loads(batch.read_bytes())):
        (batch.parent / f"old-{n}.json").write_text(json.dumps(entry))
    batch.unlink()
    assert read_manifest(warehouse) == stored
    assert _table(warehouse, source) == [(d, 1000.0 + d) for d in range(3)]


def test_a_manifest_file_that_is_not_entries_names_itself(tmp_path) -> None:
    warehouse = tmp_path / "wh"
    store_all(warehouse, _maps(_source(2), [0, 1]), datetime.now(UTC))
    (batch,) = (warehouse / MANIFEST).iterdir()
    batch.write_text('[{"source": "maps"}, 3]')
    with pytest.raises(TollError, match=f"manifest file {batch.name}: neither a JSON object"):
        read_manifest(warehouse)


def test_a_fetch_that_cannot_be_written_leaves_nothing(tmp_path, monkeypatch) -> None:
    warehouse = tmp_path / "wh"
    write_bytes = Path.write_bytes

    def full_disk(path: Path, data: bytes) -> int:
        if path.name == "1.json":
            raise OSError(28, "No space left on device")
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        store_all(warehouse, _maps(_source(3), [0, 1, 2]), datetime.now(UTC))
    assert read_manifest(warehouse) == []
    assert list((warehouse / "raw" / "maps").iterdir()) == []  # no half-written fetch either
