"""GX Data Docs for one run, as static HTML that opens offline.

GX's pages load Bootstrap, jQuery, bootstrap-table and Font Awesome from CDNs; the same files,
vendored, are copied into the folder and the pages point at them (`flows/s4_gate/docs_site.py`),
so the index, its filters and the status icons work from file:// with no network.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
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


# GX's site builder catches a failed write itself and logs it with its traceback as text (a
# full disk printed 20 lines of it), then goes on: its error is taken back and raised here.
SITE_BUILDER = "great_expectations.render.renderer.site_builder"
_ERRNO = re.compile(r"\[Errno (\d+)\] ([^\"'\n:]+)")


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _site_builder_errors() -> Iterator[_Held]:
    logger = logging.getLogger(SITE_BUILDER)
    held, propagate = _Held(), logger.propagate
    logger.addHandler(held)
    logger.propagate = False
    try:
        yield held
    finally:
        logger.removeHandler(held)
        logger.propagate = propagate


def build_data_docs(result: GateResult, folder: Path) -> Path:
    """Render the run's validation results to `folder` (replaced if present); returns index.

    A failed write (a full disk) removes the half-written folder and raises the OSError."""
    try:
        with _site_builder_errors() as held:
            index = _build(result, folder)
        for message in held.messages:
            found = _ERRNO.search(message)
            if found is not None:
                raise OSError(int(found.group(1)), found.group(2).strip(), str(folder))
            logging.getLogger(SITE_BUILDER).error("%s", message)  # not the system's: as before
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        # shutil.Error (copying the vendored files) lists each file's error as text
        found = _ERRNO.search(str(exc)) if exc.errno is None else None
        if found is None:
            raise
        raise OSError(int(found.group(1)), found.group(2).strip(), str(folder)) from None
    return index


def _build(result: GateResult, folder: Path) -> Path:
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
