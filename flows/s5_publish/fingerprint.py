"""What a build is made from, as one hash: raw files in use, result-affecting settings, code.

When nothing changed since the current snapshot, a nightly run has nothing to rebuild, gate or
publish: the snapshot it would produce is the one already published.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from flows import __version__
from flows.config import Settings
from flows.errors import TollError
from flows.s1_sources.catalogue import Source, load_catalogue
from flows.s2_ingest.collect import nothing_new
from flows.s3_build.column_docs import SUFFIX as DOCS_SUFFIX
from flows.s3_build.models import SQL_DIR
from flows.s4_gate import suites
from flows.warehouse.layout import Warehouse, as_warehouse, open_warehouse
from flows.warehouse.raw_store import entries_in_use
from flows.warehouse.snapshots import METADATA, current_snapshot

KEY = "inputs_fingerprint"


def inputs_fingerprint(
    settings: Settings, catalogue: dict[str, Source], warehouse: Warehouse | None = None
) -> str:
    warehouse = warehouse or open_warehouse(settings)
    digest = hashlib.sha256()
    digest.update(__version__.encode())
    digest.update(json.dumps(settings.result_affecting(), sort_keys=True, default=str).encode())
    for source in catalogue.values():
        for entry in entries_in_use(warehouse, source, settings.as_of):
            digest.update(f"{source.name}\0{entry.file}\0{entry.sha256}\0{entry.as_of}\n".encode())
    # the models and the suites decide the published numbers and what was checked; the column
    # docs and the sources' terms are published with them (comments, LICENSES.md)
    for source in catalogue.values():
        digest.update(json.dumps([source.name, *map(repr, source.terms)]).encode())
    for path in sorted([*SQL_DIR.rglob("*.sql"), *SQL_DIR.rglob(f"*{DOCS_SUFFIX}")]):
        digest.update(path.relative_to(SQL_DIR).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(json.dumps(suites.load_suites(), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def unchanged_snapshot(warehouse: Warehouse | Path, fingerprint: str) -> Path | None:
    """The current snapshot if it was built from exactly these inputs, else None."""
    warehouse = as_warehouse(warehouse)
    snapshot = current_snapshot(warehouse)
    if snapshot is None or not (snapshot / METADATA).exists():
        return None
    metadata = json.loads((snapshot / METADATA).read_text())
    return snapshot if metadata.get(KEY) == fingerprint else None


def standing_snapshot(settings: Settings, warehouse: Warehouse | None = None) -> Path | None:
    """The current snapshot when a nightly run on local sources would change nothing.

    Decided without Prefect: on a temporary Prefect server, starting it costs more than all of
    an unchanged run's own work (≈ 5–10 s against 0.5 s). Upstream sources are left to the flow,
    whose fetch tasks retry and are recorded; so is anything unexpected, such as a missing file.
    """
    if settings.source_dir is None:
        return None
    warehouse = warehouse or open_warehouse(settings)
    catalogue = load_catalogue(settings.catalogue)
    today = datetime.now(UTC).date()
    try:
        if not all(
            nothing_new(settings, source, today, warehouse) for source in catalogue.values()
        ):
            return None
    except TollError:
        return None
    return unchanged_snapshot(warehouse, inputs_fingerprint(settings, catalogue, warehouse))
