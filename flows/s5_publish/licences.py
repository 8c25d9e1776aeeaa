"""What each published table may be used under, derived from the licences of its inputs.

Each source declares its terms in the catalogue (`[[sources.<name>.terms]]`, read by
`flows/s1_sources/terms.py`). A table inherits every obligation of the sources it is
built from: attribution for all, share-alike from CC BY-SA, copyleft from GPL-3.0, MIT notices
kept; an input without any licence is flagged, since toll cannot grant rights it was never
given. The statement goes into every snapshot (`LICENSES.md`, `licenses.json`) with a
`CITATION.cff` and ready-to-paste citation text naming the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date

from flows.s1_sources.terms import LICENCES, UNLICENSED, Terms

# toll's own choice for a table whose inputs ask for no stronger terms: attribution only
DEFAULT_OUTPUT = "CC-BY-4.0"


@dataclass
class TableLicence:
    table: str
    licence: str  # an id of LICENCES: what the table is offered under
    sources: list[str]
    obligations: list[str] = field(default_factory=list)
    unlicensed: list[str] = field(default_factory=list)


def _label(source: str, terms: Terms) -> str:
    return f"{source} ({terms.part})" if terms.part else source


def table_licence(table: str, inputs: Mapping[str, list[Terms]]) -> TableLicence:
    """The licence and obligations of one table built from `inputs` (source -> its terms)."""
    every = [(s, t) for s in sorted(inputs) for t in inputs[s]]
    copyleft = [_label(s, t) for s, t in every if LICENCES[t.licence].copyleft]
    share_alike = [_label(s, t) for s, t in every if LICENCES[t.licence].share_alike]
    licence = "GPL-3.0-only" if copyleft else "CC-BY-SA-4.0" if share_alike else DEFAULT_OUTPUT
    result = TableLicence(table, licence, sorted(inputs))
    credits = list(dict.fromkeys(t.credit for _, t in every))
    result.obligations.append("Credit " + "; ".join(credits) + ".")
    cc = sorted({LICENCES[t.licence].name for _, t in every if t.licence.startswith("CC-")})
    if cc:
        result.obligations.append(
            f"Name the licence ({', '.join(cc)}) with a link, and say the data were changed "
            "(toll aggregates and recomputes them)."
        )
    if share_alike:
        result.obligations.append(
            "Share-alike (CC BY-SA 4.0), from " + ", ".join(share_alike) + ": share adaptations "
            "under CC BY-SA 4.0 or a licence Creative Commons lists as compatible (GPL-3.0)."
        )
    if copyleft:
        result.obligations.append(
            "Copyleft (GPL-3.0), from " + ", ".join(copyleft) + ": convey adaptations under "
            "GPL-3.0 with their source (toll's code and SQL are public, MIT)."
        )
    for source, terms in every:
        if terms.notice:
            result.obligations.append(
                f"Keep the notice of {_label(source, terms)}: {terms.notice}."
            )
    for source, terms in every:
        if terms.licence == UNLICENSED:
            flagged = f"{_label(source, terms)}: no licence stated"
            result.unlicensed.append(flagged + (f" ({terms.note})" if terms.note else ""))
    if result.unlicensed:
        result.obligations.append(
            "Unlicensed input: toll cannot grant rights in what it takes from "
            + "; ".join(result.unlicensed)
            + ". Reuse beyond quotation, research and reporting may need the holder's permission."
        )
    return result


def licences_markdown(snapshot: str, tables: Iterable[TableLicence]) -> str:
    lines = [
        f"# Licences of snapshot {snapshot}",
        "",
        "Each table's licence follows from the licences of the sources it is built from: toll",
        "offers its own work under CC BY 4.0 unless an input asks for share-alike (CC BY-SA 4.0)",
        "or copyleft (GPL-3.0). The code that built it is MIT (LICENSE in the repository).",
        "",
        "| table | licence | built from | flagged |",
        "|---|---|---|---|",
    ]
    tables = list(tables)
    for t in tables:
        flagged = "unlicensed input" if t.unlicensed else ""
        lines.append(
            f"| `{t.table}` | {LICENCES[t.licence].name} | {', '.join(t.sources)} | {flagged} |"
        )
    for t in tables:
        lines += ["", f"## {t.table}", "", f"Licence: {LICENCES[t.licence].name}", ""]
        lines += [f"- {o}" for o in t.obligations]
    return "\n".join(lines) + "\n"


def licences_json(snapshot: str, tables: Iterable[TableLicence]) -> dict:
    return {
        "snapshot": snapshot,
        "tables": [
            {**asdict(t), "licence_name": LICENCES[t.licence].name, "url": LICENCES[t.licence].url}
            for t in tables
        ],
    }


TITLE = "toll: weekly and regional fact tables of Russian military losses in the war in Ukraine"
AUTHORS = "the toll contributors"


@dataclass(frozen=True)
class SourceCredit:
    name: str
    title: str
    terms: list[Terms]


def snapshot_date(snapshot: str) -> date:
    """Snapshot ids start with their UTC publication date (20261203T...Z)."""
    return date(int(snapshot[:4]), int(snapshot[4:6]), int(snapshot[6:8]))


def citation_text(snapshot: str, sources: Iterable[SourceCredit]) -> str:
    """One paragraph to paste under a chart or into a bibliography."""
    published = snapshot_date(snapshot)
    credits = list(dict.fromkeys(t.credit for s in sources for t in s.terms))
    return (
        f"{AUTHORS.capitalize()} ({published.year}). {TITLE}. Snapshot {snapshot}, published "
        f"{published.isoformat()} [data set]. Built from: {'; '.join(credits)}."
    )


def citation_cff(snapshot: str, sources: Iterable[SourceCredit]) -> str:
    """CITATION.cff (1.2.0) for the snapshot as a data set, its sources as references."""
    import yaml

    references = []
    for source in sources:
        for terms in source.terms:
            reference = {
                "type": "dataset",
                "title": source.title + (f" ({terms.part})" if terms.part else ""),
                "authors": [{"name": terms.credit}],
            }
            if terms.licence != UNLICENSED:
                reference["license"] = terms.licence
            if terms.note:
                reference["notes"] = terms.note
            references.append(reference)
    document = {
        "cff-version": "1.2.0",
        "message": (
            "If you use these tables, cite this snapshot and credit its sources as LICENSES.md "
            "in the snapshot says."
        ),
        "type": "dataset",
        "title": f"{TITLE} (snapshot {snapshot})",
        "version": snapshot,
        "date-released": snapshot_date(snapshot).isoformat(),
        "authors": [{"name": AUTHORS}],
        "references": references,
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
