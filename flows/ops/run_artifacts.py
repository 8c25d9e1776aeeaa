"""What a run shows in the Prefect UI: a markdown summary, a table of expectation results and a
link to the run's Data Docs (or its report when there are no Data Docs)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from flows.s2_ingest.collect import SourceOutcome
from flows.s4_gate.suites import Check
from flows.s5_publish.publish import METADATA

# Artifact keys are lowercase letters, digits and dashes; one key per kind keeps the history of
# each kind across runs in the UI's Artifacts page.
SUMMARY_KEY = "toll-run-summary"
EXPECTATIONS_KEY = "toll-expectations"
DOCS_KEY = "toll-data-docs"


def summary_markdown(
    title: str, outcomes: list[SourceOutcome], checks: list[Check], snapshot: Path
) -> str:
    """Headline and what changed first; then the gate, rows per table and the sources (new files
    listed with sha256, unchanged ones counted per source)."""
    from flows.lineage.changes import CHANGES_MD
    from flows.s6_report.headline import headline, nowcast_line, nowcast_scores_markdown

    meta = json.loads((snapshot / METADATA).read_text())
    figures = headline(snapshot)
    lines = [f"# toll {title}: snapshot `{snapshot.name}`", "", "## Headline", ""]
    if figures.get("invented"):
        lines += ["**INVENTED SAMPLE DATA (toll run --demo): not real figures.**", ""]
    lines.append(f"- named deaths (vintage {figures['as_of']}): {figures['named_total']:,}")
    states = figures.get("state_by_year", {})
    for year, named in sorted(figures["named_by_year"].items()):
        state = states.get(year)
        lines.append(f"- {year}: {named:,} named" + (f" ({state})" if state else ""))
    if nowcast := nowcast_line(figures):
        lines.append(f"- latest week with a nowcast, {nowcast}")
    if scores := nowcast_scores_markdown(figures):
        lines += ["", "## Nowcast back-test", "", *scores]
    if "backfill" in meta:
        b = meta["backfill"]
        lines += ["", f"Backfill {b['start']}..{b['end']}: weeks {b['weeks'][0]}..{b['weeks'][1]}"]
        lines.append(f"rebuilt on top of snapshot `{b['based_on']}`")
    changes = snapshot / CHANGES_MD
    if changes.exists():
        # the note's own title becomes a section of this summary
        body = changes.read_text(encoding="utf-8").splitlines()
        lines += ["", "## What changed since the last publish", *body[1:]]
    failed = [c for c in checks if not c.success]
    lines += ["", "## Gate", ""]
    lines.append(
        f"{len(checks)} expectations: {sum(c.severity == 'error' for c in failed)} failed errors, "
        f"{sum(c.severity == 'warning' for c in failed)} warnings"
    )
    lines += [f"- {c.severity}: {c.describe()}" for c in failed]
    lines += ["", "| suite | expectations | failed errors | failed warnings |", "|---|---|---|---|"]
    for suite, mine in _by_suite(checks).items():
        errors = sum(not c.success and c.severity == "error" for c in mine)
        warnings = sum(not c.success and c.severity == "warning" for c in mine)
        lines.append(f"| {suite} | {len(mine)} | {errors} | {warnings} |")
    lines += ["", "## Rows published", "", "| table | rows |", "|---|---|"]
    lines += [f"| {name} | {rows:,} |" for name, rows in meta.get("tables", {}).items()]
    quarantined = sum(f.rejected for o in outcomes for f in o.files)
    lines += ["", "## Sources", "", f"Rows quarantined by this run's parsing: {quarantined}", ""]
    lines += ["| source | file | status | sha256 | rows | quarantined |", "|" + "---|" * 6]
    for outcome in outcomes:
        for f in outcome.new:
            lines.append(
                f"| {outcome.source} | {f.file} | fetched | `{f.sha256[:12]}` | {f.rows} | "
                f"{f.rejected} |"
            )
        unchanged = len(outcome.files) - len(outcome.new)
        if unchanged:
            lines.append(
                f"| {outcome.source} | {unchanged} file(s) | unchanged (not parsed again) | | | |"
            )
    return "\n".join(lines)


def _by_suite(checks: list[Check]) -> dict[str, list[Check]]:
    grouped: dict[str, list[Check]] = {}
    for check in checks:
        grouped.setdefault(check.suite, []).append(check)
    return grouped


def expectation_rows(checks: list[Check]) -> list[dict]:
    return [
        {
            "suite": c.suite,
            "expectation": c.expectation,
            "column": c.column or "",
            "severity": c.severity,
            "result": "passed" if c.success else "FAILED",
            "unexpected": c.unexpected or 0,
        }
        for c in checks
    ]


def served_docs_url(docs: Path, docs_url: str) -> str:
    """The http(s) URL of a run's Data Docs page (`docs/<run>/index.html`) under `toll docs`."""
    run, page = docs.parent.name, docs.name
    return f"{docs_url.rstrip('/')}/{quote(run)}/{quote(page)}"


def docs_link(
    snapshot: Path, docs: Path | None = None, docs_url: str | None = None
) -> tuple[str, str]:
    """The run's Data Docs when the gate wrote them (served by `toll docs` when `docs_url` is
    given: the Prefect UI cannot open file:// links), else the snapshot's HTML report."""
    if docs is not None and docs.is_file():
        if docs_url:
            return served_docs_url(docs, docs_url), "GX Data Docs of this run (`toll docs`)"
        return docs.as_uri(), "GX Data Docs of this run"
    for candidate in sorted(snapshot.rglob("index.html")):
        if any("docs" in part for part in candidate.relative_to(snapshot).parts[:-1]):
            return candidate.as_uri(), "GX Data Docs of this run"
    report = next(iter(sorted(snapshot.rglob("*.html"))), None)
    if report is not None:
        return report.as_uri(), "HTML report of this run (no Data Docs were written)"
    return snapshot.as_uri(), "published snapshot folder"


def publish_run_artifacts(
    outcomes: list[SourceOutcome],
    checks: list[Check],
    snapshot: Path,
    title: str,
    docs: Path | None = None,
    docs_url: str | None = None,
) -> None:
    create_markdown_artifact(
        markdown=summary_markdown(title, outcomes, checks, snapshot),
        key=SUMMARY_KEY,
        description=f"toll {title}",
    )
    create_table_artifact(
        table=expectation_rows(checks), key=EXPECTATIONS_KEY, description="expectation results"
    )
    link, text = docs_link(snapshot, docs, docs_url)
    description = f"{text}: {docs}" if docs is not None and docs.is_file() else text
    create_link_artifact(link=link, link_text=text, key=DOCS_KEY, description=description)


def completion_message(snapshot: Path) -> str:
    """The Completed state's message: what `toll history` and the UI's run list show."""
    meta = json.loads((snapshot / METADATA).read_text())
    tables = meta.get("tables", {})
    gate = meta.get("gate", {})
    return (
        f"published snapshot {snapshot.name}: {sum(tables.values()):,} rows in {len(tables)} "
        f"tables; gate passed: {gate.get('expectations', 0)} expectations, "
        f"{gate.get('failed_warnings', 0)} warning(s)"
    )


REPORT_KEY = "toll-report"


def report_link_artifact(warehouse, snapshot_id: str) -> str | None:
    """On object storage: a link artifact to the snapshot's HTML report on the bucket, presigned
    (one self-contained page: the charts are inline) so a browser opens it without credentials
    for 7 days. Returns the URL (None on a local warehouse)."""
    from flows.s6_report import REPORT_DIR, REPORT_HTML

    if warehouse.remote is None:
        return None
    key = f"snapshots/{snapshot_id}/{REPORT_DIR}/{REPORT_HTML}"
    url = warehouse.remote.presigned(key)
    create_link_artifact(
        link=url,
        link_text=f"HTML report of snapshot {snapshot_id} (link valid 7 days)",
        key=REPORT_KEY,
        description=f"{warehouse.remote.uri(key)}; `toll report` makes a new link",
    )
    return url
