"""GX Data Docs for one run, as static HTML that opens offline.

GX's pages load Bootstrap, jQuery and fonts from CDNs; without them a page is unstyled but its
content is all there. The external tags are removed (nothing is fetched when a page opens) and a
small stylesheet is inlined so tables stay readable.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from flows.s4_gate.suites import GateResult, quiet_great_expectations

_EXTERNAL = re.compile(
    r"<(?:link|script)\b[^>]*(?:href|src)=\"https?://[^\"]*\"[^>]*>(?:\s*</script>)?",
    re.IGNORECASE,
)
_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:1rem 2rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem}
.text-danger,.fa-times{color:#b00}.text-success,.fa-check-circle{color:#070}
.d-none,.modal{display:none}.card{border:1px solid #ddd;margin:.5rem 0;padding:.5rem}
nav,.navbar{margin-bottom:1rem}pre,code{background:#f6f6f6;white-space:pre-wrap}
</style>"""
INDEX = "index.html"


def build_data_docs(result: GateResult, folder: Path) -> Path:
    """Render the run's validation results to `folder` (replaced if present); returns index."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    quiet_great_expectations()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    context = gx.get_context(mode="ephemeral")
    context.add_data_docs_site(
        "toll",
        {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(folder),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    run_id = RunIdentifier(run_name=folder.name)
    added: set[str] = set()
    for suite, validation in zip(result.suites, result.results, strict=True):
        if suite.name not in added:
            context.suites.add(suite)
            added.add(suite.name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(suite.name),
            run_id=run_id,
            batch_identifier=suite.name,
        )
        context.validation_results_store.set(key, validation)
    context.build_data_docs(site_names=["toll"])
    for page in folder.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        html = _EXTERNAL.sub("", html).replace("</head>", _STYLE + "</head>", 1)
        page.write_text(html, encoding="utf-8")
    return folder / INDEX
