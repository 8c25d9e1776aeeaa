"""Bring one source up to date in the raw layer: fetch what changed, parse it once, keep it."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import httpx

from flows.config import Settings
from flows.errors import SourceUnavailable
from flows.s1_sources.catalogue import Source, SourceFile
from flows.s2_ingest.fetch import fetch_bytes
from flows.s2_ingest.local_files import LocalStats, local_stat
from flows.s2_ingest.parallel import BATCH_FORMATS, HEAVY_FORMATS, parse_many
from flows.s2_ingest.parsing import check_rejected_share
from flows.warehouse.layout import Warehouse, open_warehouse
from flows.warehouse.raw_store import ManifestEntry, store_all

# Sources fetched side by side parse and store their new files one at a time when those are
# large: at 100x Mediazona's 5,000 vintages (151 MB) and the 2 M named records (222 MB) each
# held 0.8-1.1 GiB more while parsed and stored, and side by side the run's process tree
# peaked at 2.47-2.49 GiB (target 2.5); one at a time 2.24-2.29 GiB, for 0.3 s more of a 23 s
# run (3 alternated pairs). Maps are parsed in worker processes and are not held back.
LARGE_PARSE_BYTES = 64 << 20
_large_parse = threading.Lock()


@dataclass
class FileOutcome:
    file: str
    url: str
    status: str  # "new", "unchanged"
    sha256: str
    rows: int = 0
    rejected: int = 0
    detail: str = ""


@dataclass
class SourceOutcome:
    source: str
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def new(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "new"]


def ingest_source(
    settings: Settings, source: Source, fetched_at: datetime, warehouse: Warehouse | None = None
) -> SourceOutcome:
    """Fetch each declared file; a content already stored is neither stored nor parsed again."""
    warehouse = warehouse or open_warehouse(settings)
    outcome = SourceOutcome(source.name)
    stored, newest = _stored(warehouse, source)
    local_copies = LocalStats(warehouse, source.name)
    pending: list[tuple[SourceFile, str, bytes, str]] = []
    pending_sha256: dict[str, str] = {}
    parsed_here: list[FileOutcome] = []  # the outcomes of `pending`, in its order
    for spec in files_to_fetch(settings, source, fetched_at.date()):
        url = spec.location(settings)
        pinned = spec.sha256 if settings.verify_checksums else None
        if pinned and pinned in stored:
            # A pinned file cannot change: no need to fetch it again.
            outcome.files.append(FileOutcome(spec.local, url, "unchanged", pinned))
            continue
        if (part := newest.get(spec.local)) is not None and part.fetched_time == fetched_at:
            # fetched and stored moments ago by an `ingest-part` run of this very run (another
            # host, flows/pipeline/spread.py): not fetched again (from upstream URLs, every
            # map of the parts would be downloaded twice)
            outcome.files.append(_unchanged(spec.local, url, part.sha256, part, fetched_at))
            continue
        stat = local_stat(url)
        if (sha256 := local_copies.sha256(url, stat)) and pinned in (None, sha256):
            # a local copy untouched since it was read: stored already, it is not read again
            previous = _same_content(source, spec.local, sha256, stored, newest)
            if previous is not None:
                outcome.files.append(_unchanged(spec.local, url, sha256, previous, fetched_at))
                continue
        try:
            content, sha256 = _fetch(settings, source, spec, url, pinned)
        except SourceUnavailable as exc:
            if spec.optional and _not_found(exc):
                continue  # today's dated file is not published yet
            raise
        local_copies.remember(url, stat, sha256)
        previous = _same_content(source, spec.local, sha256, stored, newest)
        if previous is None and source.keep_all_vintages and sha256 in pending_sha256:
            detail = f"same content as {pending_sha256[sha256]}"
            outcome.files.append(FileOutcome(spec.local, url, "unchanged", sha256, detail=detail))
            continue
        if previous is not None:
            outcome.files.append(_unchanged(spec.local, url, sha256, previous, fetched_at))
            continue
        pending.append((spec, url, content, sha256))
        pending_sha256[sha256] = spec.local
        parsed_here.append(FileOutcome(spec.local, url, "new", sha256))
        outcome.files.append(parsed_here[-1])
    large = source.format not in HEAVY_FORMATS and (
        sum(len(content) for _, _, content, _ in pending) >= LARGE_PARSE_BYTES
    )
    with _large_parse if large else nullcontext():
        # every new file is parsed (in parallel when there are many maps), then kept in order
        parsed_files = parse_many(
            source.format, source.name, [(spec.local, content) for spec, _, content, _ in pending]
        )
        for (spec, *_), parsed in zip(pending, parsed_files, strict=True):
            check_rejected_share(source.name, spec.local, parsed)
        entries = store_all(
            warehouse,
            [(*item, parsed) for item, parsed in zip(pending, parsed_files, strict=True)],
            fetched_at,
            together=source.format in BATCH_FORMATS,
        )
    for item, entry in zip(parsed_here, entries, strict=True):
        item.rows, item.rejected = entry.rows, entry.rejected
    local_copies.save()
    return outcome


def nothing_new(
    settings: Settings, source: Source, today: date, warehouse: Warehouse | None = None
) -> bool:
    """Whether fetching the source now would store nothing: every file's content is stored.

    Decides like `ingest_source` (a local copy untouched since it was read is not read again),
    but parses, stores and remembers nothing."""
    warehouse = warehouse or open_warehouse(settings)
    stored, newest = _stored(warehouse, source)
    local_copies = LocalStats(warehouse, source.name)
    for spec in files_to_fetch(settings, source, today):
        url = spec.location(settings)
        pinned = spec.sha256 if settings.verify_checksums else None
        if pinned and pinned in stored:
            continue
        sha256 = local_copies.sha256(url, local_stat(url))
        if not sha256 or pinned not in (None, sha256):
            _, sha256 = _fetch(settings, source, spec, url, pinned)
        if _same_content(source, spec.local, sha256, stored, newest) is None:
            return False
    return True


def _fetch(
    settings: Settings, source: Source, spec: SourceFile, url: str, pinned: str | None
) -> tuple[bytes, str]:
    return fetch_bytes(
        source.name,
        url,
        sha256=pinned,
        timeout=settings.http_timeout_seconds,
        attempts=settings.http_retries,
        backoff=settings.http_backoff_seconds,
        gunzip=spec.recompressed,
    )


def _stored(
    warehouse: Warehouse, source: Source
) -> tuple[dict[str, ManifestEntry], dict[str, ManifestEntry]]:
    """The source's stored files by sha256, and each file's newest content by name."""
    # the manifest is read once per run (Warehouse.manifest); once per file made a run over
    # thousands of maps quadratic
    manifest = [e for e in warehouse.manifest() if e.source == source.name]  # oldest first
    return {e.sha256: e for e in manifest}, {e.file: e for e in manifest}


def _unchanged(
    local: str, url: str, sha256: str, previous: ManifestEntry, fetched_at: datetime
) -> FileOutcome:
    if previous.fetched_time == fetched_at and previous.file == local:
        # stored by an `ingest-part` run of this very run (flows/pipeline/spread.py): new to
        # this run, so its parse rejects are quarantined under this run like any other's
        detail = "parsed by an ingest-part run"
        return FileOutcome(local, url, "new", sha256, previous.rows, previous.rejected, detail)
    detail = "" if previous.file == local else f"same content as {previous.file}"
    return FileOutcome(local, url, "unchanged", sha256, detail=detail)


def files_to_fetch(settings: Settings, source: Source, today: date) -> list[SourceFile]:
    """The declared files, plus on upstream runs the dated daily files of today and yesterday
    (a run before the day's upload still gets yesterday's)."""
    files = list(source.files)
    if settings.source_dir is None:
        declared = {f.local for f in files}
        daily = source.daily_files([today - timedelta(days=1), today])
        files += [f for f in daily if f.local not in declared]
    return files


def _not_found(exc: SourceUnavailable) -> bool:
    cause = exc.__cause__
    return isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 404


def _same_content(
    source: Source,
    local: str,
    sha256: str,
    stored: dict[str, ManifestEntry],
    newest: dict[str, ManifestEntry],
) -> ManifestEntry | None:
    if source.keep_all_vintages:
        return stored.get(sha256)
    # For a moving file only its newest content counts: A -> B -> A is a change back to A.
    current = newest.get(local)
    return current if current is not None and current.sha256 == sha256 else None
