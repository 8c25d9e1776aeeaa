"""GX Data Docs for one run, as static HTML that opens offline.

GX's pages load Bootstrap, jQuery, bootstrap-table and Font Awesome from CDNs; the same files,
vendored, are copied into the folder and the pages point at them (`flows/s4_gate/docs_site.py`),
so the index, its filters and the status icons work from file:// with no network.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flows.s3_build.column_docs import TableDoc, load_table_docs
from flows.s4_gate.suites import GateResult, quiet_great_expectations

INDEX = "index.html"


def column_notes(doc: TableDoc) -> list[str]:
    """The table's column docs as suite notes (markdown, shown on the suite's page)."""
    columns = "\n".join(
        f"- `{name}` ({column.unit}): {column.description}" for name, column in doc.columns.items()
    )
    return [f"**{doc.name}**: {doc.description}", f"Columns:\n\n{columns}"]


def build_data_docs(result: GateResult, folder: Path) -> Path:
    """Render the run's validation results to `folder` (replaced if present); returns index."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from flows.s4_gate.docs_site import make_offline, site_config

    quiet_great_expectations()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site("toll", site_config(folder))
    run_id = RunIdentifier(run_name=folder.name)
    added: set[str] = set()
    tables = load_table_docs()
    for suite, validation in zip(result.suites, result.results, strict=True):
        if suite.name not in added:
            doc = tables.get((suite.meta or {}).get("table", suite.name))
            if doc is not None and not suite.notes:
                suite.notes = column_notes(doc)
            context.suites.add(suite)
            added.add(suite.name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(suite.name),
            run_id=run_id,
            batch_identifier=suite.name,
        )
        context.validation_results_store.set(key, validation)
    context.build_data_docs(site_names=["toll"])
    make_offline(folder)
    return folder / INDEX
