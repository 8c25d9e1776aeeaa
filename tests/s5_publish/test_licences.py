"""A table's licence and obligations follow from its inputs; citation names the snapshot."""

from __future__ import annotations

import pytest
import yaml

from flows.errors import ConfigError
from flows.s1_sources.catalogue import load_catalogue
from flows.s1_sources.terms import Terms, parse_terms
from flows.s5_publish.licences import (
    SourceCredit,
    citation_cff,
    citation_text,
    licences_json,
    licences_markdown,
    table_licence,
)
from flows.s5_publish.reference import REFERENCE, reference_markdown

ECONOMIST = Terms("CC-BY-4.0", "The Economist")
HFLABS = Terms("CC-BY-SA-4.0", "hflabs/region (DaData.ru)")
CLAIMS = Terms("MIT", "PetroIvaniuk", notice="MIT License, Copyright (c) 2022 Petro Ivaniuk")
BESSUDNOV = Terms("none", "Bessudnov (2023)", note="cite the paper")
MAPS_GPL = Terms("GPL-3.0-only", "DeepStateMap.live via cyterat", part="pre-filtered files")


def test_attribution_only_inputs_give_cc_by_and_credit_everyone() -> None:
    t = table_licence("fct_x", {"weekly_named": [ECONOMIST], "official_claims": [CLAIMS]})
    assert t.licence == "CC-BY-4.0" and t.unlicensed == []
    assert "The Economist" in t.obligations[0] and "PetroIvaniuk" in t.obligations[0]
    assert any("Copyright (c) 2022 Petro Ivaniuk" in o for o in t.obligations)
    assert not any("Share-alike" in o or "Copyleft" in o for o in t.obligations)


def test_share_alike_and_unlicensed_inputs_are_carried_and_flagged() -> None:
    t = table_licence("dim_region", {"regions": [HFLABS], "census_men": [BESSUDNOV]})
    assert t.licence == "CC-BY-SA-4.0"
    assert any(o.startswith("Share-alike (CC BY-SA 4.0), from regions") for o in t.obligations)
    assert t.unlicensed == ["census_men: no licence stated (cite the paper)"]
    assert any("permission" in o for o in t.obligations)


def test_a_gpl_input_makes_the_table_gpl_even_beside_share_alike() -> None:
    t = table_licence("fct_y", {"territory": [MAPS_GPL], "regions": [HFLABS]})
    assert t.licence == "GPL-3.0-only"
    assert any(
        "Copyleft (GPL-3.0), from territory (pre-filtered files)" in o for o in t.obligations
    )


def test_statements_name_the_snapshot_and_every_table() -> None:
    tables = [
        table_licence("a", {"weekly_named": [ECONOMIST]}),
        table_licence("b", {"regions": [HFLABS], "named_records": [BESSUDNOV]}),
    ]
    text = licences_markdown("20261203T000000000000Z", tables)
    assert "snapshot 20261203T000000000000Z" in text
    assert "| `a` | CC BY 4.0 | weekly_named |  |" in text
    assert "| `b` | CC BY-SA 4.0 | named_records, regions | unlicensed input |" in text
    data = licences_json("20261203T000000000000Z", tables)
    assert [t["licence"] for t in data["tables"]] == ["CC-BY-4.0", "CC-BY-SA-4.0"]


def test_citation_names_the_snapshot_its_date_and_the_sources() -> None:
    sources = [
        SourceCredit("weekly_named", "Named deaths per ISO week", [ECONOMIST]),
        SourceCredit("named_records", "Records", [BESSUDNOV]),
    ]
    snapshot = "20261203T083546859678Z"
    text = citation_text(snapshot, sources)
    assert "Snapshot 20261203T083546859678Z, published 2026-12-03" in text
    assert text.endswith("Built from: The Economist; Bessudnov (2023).")
    cff = yaml.safe_load(citation_cff(snapshot, sources))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "dataset"
    assert cff["version"] == snapshot and cff["date-released"] == "2026-12-03"
    assert [r.get("license") for r in cff["references"]] == ["CC-BY-4.0", None]
    assert cff["authors"] and cff["message"] and snapshot in cff["title"]


@pytest.mark.parametrize(
    "raw",
    [None, [], [{"licence": "CC-BY-4.0"}], [{"licence": "WTFPL", "credit": "x"}], ["MIT"]],
)
def test_malformed_terms_are_a_clear_error_naming_the_source(raw) -> None:
    with pytest.raises(ConfigError, match="source 'regions'"):
        parse_terms("regions", raw)


def test_every_source_declares_its_terms_as_the_data_readme_states() -> None:
    catalogue = load_catalogue()
    assert all(source.terms for source in catalogue.values())
    licences = {name: [t.licence for t in s.terms] for name, s in catalogue.items()}
    assert licences["regions"] == ["CC-BY-SA-4.0"]
    assert licences["territory"] == ["none", "GPL-3.0-only"]
    assert licences["named_records"] == licences["census_men"] == ["none"]
    assert licences["weekly_named"] == licences["territory_area"] == ["CC-BY-4.0"]


def test_the_table_reference_in_docs_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/tables.md is out of date: run `python -m flows.s5_publish.reference`"
    )
