"""Bring one source up to date in the raw layer: fetch what changed, parse it once, keep it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flows.config import Settings
from flows.ingest.fetch import fetch_bytes
from flows.ingest.formats import parser_for
from flows.ingest.parsing import check_rejected_share
from flows.raw_store import ManifestEntry, entries_in_use, read_manifest, store
from flows.sources import Source


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


def ingest_source(settings: Settings, source: Source, fetched_at: datetime) -> SourceOutcome:
    """Fetch each declared file; a content already stored is neither stored nor parsed again."""
    warehouse = settings.warehouse
    outcome = SourceOutcome(source.name)
    stored = {e.sha256: e for e in read_manifest(warehouse) if e.source == source.name}
    parse = parser_for(source.format)
    for spec in source.files:
        url = spec.location(settings)
        pinned = spec.sha256 if settings.verify_checksums else None
        if pinned and pinned in stored:
            # A pinned file cannot change: no need to fetch it again.
            outcome.files.append(FileOutcome(spec.local, url, "unchanged", pinned))
            continue
        content, sha256 = fetch_bytes(
            source.name,
            url,
            sha256=pinned,
            timeout=settings.http_timeout_seconds,
            attempts=settings.http_retries,
            backoff=settings.http_backoff_seconds,
        )
        previous = _same_content(source, spec.local, sha256, stored, warehouse)
        if previous is not None:
            detail = "" if previous.file == spec.local else f"same content as {previous.file}"
            outcome.files.append(FileOutcome(spec.local, url, "unchanged", sha256, detail=detail))
            continue
        parsed = parse(source.name, spec.local, content)
        check_rejected_share(source.name, spec.local, parsed)
        entry = store(warehouse, spec, url, content, sha256, parsed, fetched_at)
        stored[sha256] = entry
        outcome.files.append(
            FileOutcome(spec.local, url, "new", sha256, entry.rows, entry.rejected)
        )
    return outcome


def _same_content(
    source: Source, local: str, sha256: str, stored: dict[str, ManifestEntry], warehouse
) -> ManifestEntry | None:
    if source.keep_all_vintages:
        return stored.get(sha256)
    # For a moving file only its newest content counts: A -> B -> A is a change back to A.
    current = {e.file: e for e in entries_in_use(warehouse, source)}.get(local)
    return current if current is not None and current.sha256 == sha256 else None
