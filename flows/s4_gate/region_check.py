"""Named records whose region spelling matches no known alias: kept, counted, and reported.

Such a record stays in every total under region_code `UNMAPPED` (dropping it would change the
national count); each one is also quarantined with its file, row and spelling so that the alias
can be added or the source corrected. The gate fails when their share is too high.
"""

from __future__ import annotations

import duckdb

from flows.s4_gate.quarantine import QuarantinedRow, record
from flows.warehouse.layout import Warehouse
from flows.warehouse.raw_store import ManifestEntry

SOURCE = "named_records"


def unmapped_regions(
    con: duckdb.DuckDBPyConnection, manifest: list[ManifestEntry]
) -> list[QuarantinedRow]:
    """One quarantine row per named record whose region spelling is unknown."""
    files = {e.sha256: e.file for e in manifest if e.source == SOURCE}
    found = con.execute(
        "select file_sha256, source_row, region_alias from int_named_records_regions "
        "where region_code = 'UNMAPPED' order by file_sha256, source_row"
    ).fetchall()
    return [
        QuarantinedRow(
            source=SOURCE,
            reason=f"region: {alias!r} is not a known spelling of any region "
            "(the record is counted under UNMAPPED)",
            expectation="region alias known",
            file=files.get(sha256),
            file_sha256=sha256,
            row=row,
            column="region",
            value=alias,
            stage="staging",
        )
        for sha256, row, alias in found
    ]


def quarantine_unmapped_regions(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, run_id: str
) -> int:
    """Quarantine the run's records with an unknown region spelling; returns how many."""
    rows = unmapped_regions(con, warehouse.manifest())
    record(warehouse, run_id, rows)
    return len(rows)
