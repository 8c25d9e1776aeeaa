"""The raw layer: fetched files kept byte for byte, their parsed rows as Parquet, a manifest.

Layout under the warehouse (see layout.py):
  raw/<source>/<fetched_at>/<file>                 the bytes as fetched (never rewritten)
  raw/<source>/<fetched_at>/<file>.parquet         the parsed rows + file_sha256 + as_of
  raw/<source>/<fetched_at>/<file>.rejected.parquet  rows that did not parse, with a reason
  raw/_manifest/<fetched_at>-<source>-<sha12>.json the manifest entries of one fetch of a source
A fetch of many small files parsed together (Mediazona's vintages) keeps their bytes in one
uncompressed ZIP archive, each file under its own name (`_raw-<digest>.zip`, entry `raw_member`),
and their rows in one Parquet file (`_parsed-<digest>.parquet`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

import duckdb
import numpy as np
import polars as pl

from flows.errors import TollError
from flows.pipeline.crash_points import crash_point
from flows.s1_sources.catalogue import Source, SourceFile
from flows.s2_ingest.parsing import Parsed
from flows.warehouse.layout import MANIFEST, Warehouse, as_warehouse
from flows.warehouse.storage import write_temporary


@dataclass(frozen=True)
class ManifestEntry:
    source: str
    file: str
    url: str
    sha256: str
    size: int
    fetched_at: str
    as_of: str
    rows: int
    rejected: int
    raw_path: str
    parquet_path: str
    rejected_path: str | None
    # the file's name inside the archive at `raw_path` when its bytes are kept with others'
    # (`store_all(together=True)`); None: `raw_path` is the file itself
    raw_member: str | None = None

    @property
    def fetched_time(self) -> datetime:
        return datetime.fromisoformat(self.fetched_at)


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """`frame` as zstd Parquet at `path`, renamed into place once whole.

    Polars' own writer, not `pq.write_table(frame.to_arrow())`: 1,000 Mediazona vintages took
    0.68 s against 1.14 s (no Arrow conversion); it releases the GIL (`store_all` writes its
    files with it too, several at once, into a folder renamed whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        frame.write_parquet(tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# Parsed manifest files by path, with the (inode, mtime, size) they were read at. A run reads
# the manifest many times (fetch, build, gate, lineage, publish): each file is parsed once; a
# rewritten or edited one is read again.
_PARSED: dict[str, tuple[tuple[int, int, int], list[ManifestEntry]]] = {}


def read_manifest(warehouse: Warehouse | Path) -> list[ManifestEntry]:
    """Every stored raw file, oldest fetch first (use `warehouse.manifest()`: read once a run)."""
    warehouse = as_warehouse(warehouse)
    folder = warehouse.path(MANIFEST)
    if not folder.is_dir():
        return []
    entries = []
    with os.scandir(folder) as found:
        for item in found:
            if not item.name.endswith(".json"):
                continue
            stat = item.stat()
            key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            cached = _PARSED.get(item.path)
            if cached is None or cached[0] != key:
                stored = manifest_entries(item.name, Path(item.path).read_bytes())
                _PARSED[item.path] = cached = (key, stored)
            entries += cached[1]
    return sorted(entries, key=lambda e: (e.fetched_at, e.source, e.file))


_FIELDS = [f.name for f in fields(ManifestEntry)]  # in their order
# Written even when empty; the others (`raw_member`) only when set, so an entry of a file kept
# on its own reads as it did before archives, and older versions read it unchanged.
_REQUIRED = set(_FIELDS) - {"raw_member"}


def manifest_json(entries: list[ManifestEntry]) -> bytes:
    """A manifest file: one entry as an object (as every file was before batches were stored
    in one), several as a list. Fields copied by name: `asdict` copied each deeply (5,000
    entries at 100x: 0.23 s against 0.08 s; same bytes, the fields are plain values)."""
    data = [
        {
            name: value
            for name in _FIELDS
            if (value := getattr(entry, name)) is not None or name in _REQUIRED
        }
        for entry in entries
    ]
    return json.dumps(data[0] if len(data) == 1 else data, indent=1).encode()


def manifest_items(data: object) -> list[dict]:
    """The entries of a parsed manifest file, as dicts (an object or a list of them)."""
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in items):
        raise ValueError("neither a JSON object nor a list of objects")
    return items


def manifest_entries(name: str, content: bytes) -> list[ManifestEntry]:
    """The entries of the manifest file `name`, checked."""
    try:
        items = manifest_items(json.loads(content))
        # entries pulled from object storage also name their content-named objects: not read
        entries = [ManifestEntry(**{k: v for k, v in d.items() if k in _FIELDS}) for d in items]
    except (TypeError, ValueError) as exc:
        raise TollError(f"manifest file {name}: {exc}: expected toll's manifest entries") from None
    # An edited manifest must not make a build read files outside the warehouse.
    for entry in entries:
        if entry.raw_member is not None and not isinstance(entry.raw_member, str):
            raise TollError(
                f"manifest entry {name}: raw_member {entry.raw_member!r}: expected a file name"
            )
        for stored in (entry.raw_path, entry.parquet_path, entry.rejected_path):
            parts = PurePosixPath(stored).parts if stored else ("raw",)
            if PurePosixPath(stored or "raw").is_absolute() or ".." in parts or parts[0] != "raw":
                raise TollError(
                    f"manifest entry {name}: path {stored!r}: expected a path under raw/"
                )
    return entries


def known_sha256(warehouse: Warehouse, source: str) -> dict[str, ManifestEntry]:
    return {e.sha256: e for e in warehouse.manifest() if e.source == source}


def store(
    warehouse: Warehouse | Path,
    spec: SourceFile,
    url: str,
    content: bytes,
    sha256: str,
    parsed: Parsed,
    fetched_at: datetime,
) -> ManifestEntry:
    """Keep one fetched file and its parsed rows; the manifest entry is written last."""
    return store_all(warehouse, [(spec, url, content, sha256, parsed)], fetched_at)[0]


def store_all(
    warehouse: Warehouse | Path,
    files: list[tuple[SourceFile, str, bytes, str, Parsed]],
    fetched_at: datetime,
    together: bool = False,
) -> list[ManifestEntry]:
    """Keep fetched files of one source (spec, url, content, sha256, parsed rows) and their
    manifest entries.

    The files go to a temporary folder, then one sync, then the folder is renamed into place
    and the batch's manifest file after it: an entry is only ever visible once the files it
    names and its own bytes are on disk; a killed run leaves a temporary name to sweep. One
    sync, not an fsync per file: 1,000 fsyncs took 1.4 s here against 0.1 s for one sync. One
    folder rename and one manifest file per batch, not a rename and an entry file per raw
    file: at 100x (5,000 Mediazona vintages) a file created and renamed into place cost
    0.06 ms on a quiet disk and up to 0.35 ms after a large delete, against 0.03 ms written
    once, and the manifest read at each run parses one file instead of 5,000.

    `together`: the parsed rows of all the files go to one Parquet file that every entry names
    (`read_entries` keeps each entry's rows by `file_sha256`). 5,000 Mediazona vintages took
    3.4 s as one Parquet file each (Polars' per-file cost, 0.7 ms) against 0.2 s as one file,
    and the build then opens one file instead of 5,000. Their bytes go to one ZIP archive
    (stored, not compressed: each member is the file byte for byte) for the same reason: creating
    5,000 files cost 2.7-3.5 s of CPU right after a large delete on this disk (ext4 without a
    journal skips recently deleted inodes one check at a time; four threads then spin on the
    folder's lock: 3.7% of all CPU samples of a 100x run), the archive 0.15 s."""
    if not files:
        return []
    warehouse = as_warehouse(warehouse)
    (source,) = {spec.source for spec, *_ in files}
    stamp = fetched_at.strftime("%Y%m%dT%H%M%S%fZ")
    folder = warehouse.raw_key(source, stamp)
    final = warehouse.path(folder)
    staging = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    staging.mkdir(parents=True, exist_ok=True)
    try:
        rows_name = bytes_name = shared = archive = None
        if together:  # named by the digest of all their contents
            digest = _digest([sha256 for _, _, _, sha256, _ in files])[:16]
            rows_name, bytes_name = f"{TOGETHER}{digest}.parquet", f"{ARCHIVE}{digest}.zip"
            shared, archive = f"{folder}/{rows_name}", f"{folder}/{bytes_name}"

        def keep(item: tuple[SourceFile, str, bytes, str, Parsed]) -> ManifestEntry:
            spec, url, content, sha256, parsed = item
            as_of: date = spec.as_of or fetched_at.date()
            rejected = f"{spec.name}.rejected.parquet" if parsed.rejected.height else None
            if archive is None:
                (staging / spec.name).write_bytes(content)
            if shared is None:
                _with_origin(parsed.rows, sha256, as_of).write_parquet(
                    staging / f"{spec.name}.parquet", compression="zstd"
                )
            if rejected is not None:
                parsed.rejected.with_columns(pl.lit(sha256).alias("file_sha256")).write_parquet(
                    staging / rejected, compression="zstd"
                )
            return ManifestEntry(
                source=spec.source,
                file=spec.local,
                url=url,
                sha256=sha256,
                size=len(content),
                fetched_at=fetched_at.astimezone(UTC).isoformat(),
                as_of=as_of.isoformat(),
                rows=parsed.rows.height,
                rejected=parsed.rejected.height,
                raw_path=archive or f"{folder}/{spec.name}",
                parquet_path=shared or f"{folder}/{spec.name}.parquet",
                rejected_path=f"{folder}/{rejected}" if rejected else None,
                raw_member=spec.name if archive else None,
            )

        # Several files at once: zstd and the writes release the GIL (1,000 vintages: 0.43 s on
        # four threads against 0.68 s in turn, on two cores). Entries keep the input order.
        # The rows stored together are written beside them, not before: 5,000 vintages at
        # 100x, 0.5-0.7 s of Polars that had the raw files wait.
        if len(files) == 1 and not together:
            entries = [keep(files[0])]
        else:
            with ThreadPoolExecutor(max_workers=4, thread_name_prefix="toll-store") as pool:
                written = []
                if together:
                    rows_file, bytes_file = staging / rows_name, staging / bytes_name
                    written.append(pool.submit(_write_together, rows_file, files, fetched_at))
                    written.append(pool.submit(_write_archive, bytes_file, files, fetched_at))
                entries = list(pool.map(keep, files))
                for future in written:
                    future.result()
        crash_point("fetch")
        path = warehouse.path(f"{MANIFEST}/{_manifest_name(stamp, entries)}")
        temporary = write_temporary(path, manifest_json(entries))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # a full disk leaves no half fetch behind
        raise
    os.sync()  # the files, their Parquet and the entries' bytes, before any entry is visible
    _move_into(staging, final)
    os.replace(temporary, path)
    warehouse.remember(*entries)
    return entries


def _move_into(staging: Path, final: Path) -> None:
    """The staged files in `final`: the folder renamed, or file by file into a folder of the
    same fetch already there (parts of one run stored by several hosts, pulled here)."""
    try:
        staging.rename(final)
        return
    except OSError:
        if not final.is_dir():
            raise
    for item in staging.iterdir():
        os.replace(item, final / item.name)
    staging.rmdir()


def _manifest_name(stamp: str, entries: list[ManifestEntry]) -> str:
    """The name of the manifest file holding `entries` (one fetch of one source): a single
    entry's file is named by its content, as every entry's was before fetches shared a file."""
    first = entries[0]
    digest = first.sha256 if len(entries) == 1 else _digest([e.sha256 for e in entries])
    return f"{stamp}-{first.source}-{digest[:12]}.json"


def _digest(shas: list[str]) -> str:
    """One name for the contents of several files."""
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()


TOGETHER = "_parsed-"  # name of a Parquet file holding the rows of several raw files


def stored_together(entry: ManifestEntry) -> bool:
    """Whether the entry's rows share one Parquet file with other entries' (`together`)."""
    return PurePosixPath(entry.parquet_path).name.startswith(TOGETHER)


ARCHIVE = "_raw-"  # name of a ZIP archive holding the bytes of several raw files


def _write_archive(
    path: Path,
    files: list[tuple[SourceFile, str, bytes, str, Parsed]],
    fetched_at: datetime,
) -> None:
    """The bytes of all `files` in one uncompressed ZIP archive at `path`, each under its
    file name, dated `fetched_at` (the same files fetched at the same moment give the same
    archive bytes)."""
    moment = fetched_at.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for spec, _, content, _, _ in files:
            archive.writestr(zipfile.ZipInfo(spec.name, date_time=moment), content)


def read_raw(warehouse: Warehouse | Path, entry: ManifestEntry) -> bytes:
    """The bytes of a stored raw file, as fetched (from its archive when kept with others)."""
    path = as_warehouse(warehouse).path(entry.raw_path)
    if entry.raw_member is None:
        return path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        return archive.read(entry.raw_member)


def _with_origin(rows: pl.DataFrame, sha256: str, as_of: date) -> pl.DataFrame:
    return rows.with_columns(pl.lit(sha256).alias("file_sha256"), pl.lit(as_of).alias("as_of"))


def _write_together(
    path: Path,
    files: list[tuple[SourceFile, str, bytes, str, Parsed]],
    fetched_at: datetime,
) -> None:
    """One Parquet file at `path` with the parsed rows of all `files`."""
    shas = [sha256 for _, _, _, sha256, _ in files]
    rows = pl.concat([parsed.rows for *_, parsed in files], how="diagonal_relaxed")
    # Each file's sha256 and as_of gathered over its rows after the concat, not a literal
    # column per file before it. 5,000 vintages, 6.9 M rows at 100x: 0.82-1.18 s to concat and
    # write before, 0.50-0.69 s (polars' repeat_by + explode was slower than the literals).
    which = np.repeat(np.arange(len(files)), [parsed.rows.height for *_, parsed in files])
    origin = pl.DataFrame(
        {"file_sha256": shas, "as_of": [spec.as_of or fetched_at.date() for spec, *_ in files]},
        schema={"file_sha256": pl.String, "as_of": pl.Date},
    )[which]
    rows.hstack(origin).write_parquet(path, compression="zstd")


def read_entries(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, entries: list[ManifestEntry]
) -> duckdb.DuckDBPyRelation:
    """The parsed rows of these entries as one relation.

    A file stored `together` holds the rows of several entries, not always all of them in use
    (a vintage replaced by a later one of the same date): then rows are kept by their
    `file_sha256`. Not otherwise, as the filter costs every query of a view 0.13 s over 7M rows:
    a file of its own holds only its entry's rows, and files stored together whose row count
    (Parquet metadata) is that of the entries in use hold no other rows."""
    uris = list(dict.fromkeys(parquet_uri(warehouse, e) for e in entries))
    together = [e for e in entries if stored_together(e)]
    others = False
    if together:
        shared = list(dict.fromkeys(parquet_uri(warehouse, e) for e in together))
        [(held,)] = con.execute(
            "select sum(num_rows) from parquet_file_metadata(?)", [shared]
        ).fetchall()
        others = held != sum(e.rows for e in together)
    # The relation API takes the file list as a value: no path is pasted into SQL text.
    relation = con.read_parquet(uris, union_by_name=True)
    if not others:
        return relation
    wanted = [duckdb.ConstantExpression(e.sha256) for e in entries]
    return relation.filter(duckdb.ColumnExpression("file_sha256").isin(*wanted))


def entries_in_use(
    warehouse: Warehouse | Path, source: Source, as_of: date | None = None
) -> list[ManifestEntry]:
    """The raw files a build reads: every vintage, or the newest content of each file.

    With `as_of`, the data as it stood then: vintages after it are left out; a single-file
    source uses its newest content from on or before it, or its oldest when none is that old
    (reference tables such as the census exist in one version only).
    """
    warehouse = as_warehouse(warehouse)
    stored = [e for e in warehouse.manifest() if e.source == source.name]  # oldest first
    cutoff = as_of.isoformat() if as_of else None
    if source.keep_all_vintages:
        latest = {e.as_of: e for e in stored if cutoff is None or e.as_of <= cutoff}
        return sorted(latest.values(), key=lambda e: (e.as_of, e.file))
    chosen: dict[str, ManifestEntry] = {}
    for entry in stored:
        kept = chosen.get(entry.file)
        if kept is None or cutoff is None or entry.as_of <= cutoff:
            chosen[entry.file] = entry
    return sorted(chosen.values(), key=lambda e: (e.as_of, e.file))


def sources_in_use(
    warehouse: Warehouse, catalogue: dict[str, Source], as_of: date | None = None
) -> dict[str, list[dict]]:
    """Per source, the raw files a build reads (file, sha256, as_of, url): snapshot metadata."""
    return {
        s.name: [
            {"file": e.file, "sha256": e.sha256, "as_of": e.as_of, "url": e.url}
            for e in entries_in_use(warehouse, s, as_of)
        ]
        for s in catalogue.values()
    }


def parquet_uri(warehouse: Warehouse, entry: ManifestEntry) -> str:
    """Where DuckDB reads an entry's parsed rows."""
    return warehouse.storage.uri(entry.parquet_path)


def read_rejected(warehouse: Warehouse, entry: ManifestEntry) -> pl.DataFrame:
    """The rows of `entry` that did not parse (empty when none)."""
    if entry.rejected_path is None:
        return pl.DataFrame()
    return pl.read_parquet(warehouse.path(entry.rejected_path))
