"""Every case of the bad-input corpus, at the parser and in a whole nightly run: a clear error
or a quarantined row with its reason, never a traceback, a silent drop or a changed snapshot."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from helpers.bad_input_corpus import CASES, FAULTS, Case, Fault, World
from helpers.cli_testing import can_mount
from helpers.toll_testing import REPO, assert_intact, copy_warehouse, fingerprint, published_ids

from flows.config import load_settings
from flows.errors import SourceFormatError, TollError
from flows.nightly import nightly
from flows.s1_sources.catalogue import load_catalogue
from flows.s1_sources.samples import sample_files
from flows.s2_ingest.formats import parser_for
from flows.s2_ingest.parsing import check_rejected_share
from flows.s4_gate import quarantine
from flows.warehouse.raw_store import read_manifest
from flows.warehouse.snapshots import METADATA

CATALOGUE = load_catalogue()
SAMPLE = sample_files()


def _broken(case: Case) -> bytes:
    return case.mutate(SAMPLE[case.file])


def _records(case: Case, content: bytes) -> int:
    """How many records the broken file holds, counted without toll's parsers."""
    if case.file.endswith(".json"):
        return len(json.loads(content))
    if ".geojson" in case.file:
        return 1  # a map is one snapshot row
    rows = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    return sum(1 for row in rows if row) - 1


def _files(snapshot: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(snapshot.iterdir())
        if p.is_file()
    }


def test_corpus_covers_every_kind_of_source_and_enough_cases() -> None:
    assert len(CASES) >= 20
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.source for c in CASES} == set(CATALOGUE)
    for case in CASES:
        assert case.file in {f.local for f in CATALOGUE[case.source].files}
        assert _broken(case) != SAMPLE[case.file], case.name


def _readme_tables() -> list[dict[str, str]]:
    """The "Bad inputs" section's tables: {first cell: row}, headers left out."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Bad inputs", 1)[1].split("\n## ", 1)[0]
    tables, rows = [], []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            tables.append({r.split("|")[1].strip(): r for r in rows[2:]})
            rows = []
    return tables


def test_readme_table_lists_every_case_with_its_behaviour() -> None:
    listed = _readme_tables()[0]
    assert sorted(listed) == sorted(c.name for c in CASES)
    for case in CASES:
        assert f"| {case.outcome}" in listed[case.name], case.name
        assert f"`{case.source}`" in listed[case.name], case.name


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_at_the_parser(case: Case) -> None:
    """Parse-stage cases are caught by the parser; later ones parse cleanly (caught later)."""
    parse = parser_for(CATALOGUE[case.source].format)
    content = _broken(case)
    if case.stage == "parse" and case.outcome == "error":
        with pytest.raises(SourceFormatError) as info:
            check_rejected_share(case.source, case.file, parse(case.source, case.file, content))
        for fragment in case.expect:
            assert fragment in str(info.value)
        return
    parsed = parse(case.source, case.file, content)
    if case.stage == "parse":
        rejected = parsed.rejected.filter(pl.col("source_row") == case.row)
        assert parsed.rejected.height == 1 and rejected.height == 1, parsed.rejected
        for fragment in case.expect:
            assert fragment in rejected["reason"][0]
    else:
        assert parsed.rejected.height == case.rejected, parsed.rejected
    assert parsed.rows.height + parsed.rejected.height == _records(case, content)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_in_a_nightly_run(case: Case, demo_baseline, tmp_path) -> None:
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    broken = tmp_path / "sources"
    shutil.copytree(sources, broken)
    content = _broken(case)
    (broken / case.file).write_bytes(content)
    before, published = fingerprint(warehouse), published_ids(warehouse)
    settings = load_settings(source_dir=broken, warehouse=warehouse, verify_checksums=False)

    if case.outcome == "error":
        with pytest.raises(TollError) as info:
            nightly(settings=settings)
        message = str(info.value)
        if case.stage == "gate":
            assert "quality gate failed, nothing published" in message
            # every gate failure names the source, the broken file and its sha256
            sha256 = hashlib.sha256(content).hexdigest()
            assert f"source {case.source}, file {case.file} (sha256 {sha256}" in message
        for fragment in case.expect:
            assert fragment in message
        assert_intact(warehouse, before)
        assert published_ids(warehouse) == published
        return

    try:
        nightly(settings=settings)
        stopped = None
    except TollError as exc:  # the gate may stop the run: too many quarantined rows, or a check
        stopped = exc  # that blocks on such a row
    if case.outcome == "accepted" or stopped is None:
        # the snapshot published before is kept, byte for byte
        assert _files(warehouse / "snapshots" / before["snapshot"]) == before["files"]
    else:
        assert "quality gate failed, nothing published" in str(stopped)
        assert_intact(warehouse, before)
    entry = [e for e in read_manifest(warehouse) if e.file == case.file][-1]
    flagged = quarantine.read(warehouse).filter(pl.col("source") == case.source)
    if case.outcome == "accepted":
        assert stopped is None
        assert entry.rejected == 0 and flagged.height == 0
        new = _files(warehouse / "current")
        # the fact tables; lineage files name the raw file's sha256, which did change
        meta = json.loads((warehouse / "current" / METADATA).read_text())
        loosened = {item.split(".")[0] for item in case.may_change}
        tables = [f"{table}.parquet" for table in meta["tables"] if table not in loosened]
        assert {t: new[t] for t in tables} == {t: before["files"][t] for t in tables}
        for table in loosened:
            columns = [item.split(".")[1] for item in case.may_change if item.startswith(table)]
            old_rows = pl.read_parquet(
                warehouse / "snapshots" / before["snapshot"] / f"{table}.parquet"
            ).drop(columns)
            new_rows = pl.read_parquet(warehouse / "current" / f"{table}.parquet").drop(columns)
            assert new_rows.equals(old_rows), table
        return
    # only the broken record is flagged, with its file, row and reason
    assert flagged.height >= 1
    assert set(flagged["row"].to_list()) == {case.row}, flagged
    assert set(flagged["file"].to_list()) == {case.file}
    explained = [f"{r['reason']} {r['value']}" for r in flagged.iter_rows(named=True)]
    assert any(all(f in text for f in case.expect) for text in explained), explained
    # nothing dropped silently: every record is parsed or quarantined
    assert entry.rows + entry.rejected == _records(case, content)


def test_readme_lists_every_fault_with_its_behaviour() -> None:
    assert len(FAULTS) >= 8
    listed = _readme_tables()[1]
    assert sorted(listed) == sorted(f.name for f in FAULTS)
    for fault in FAULTS:
        word = "refused" if fault.exit else "handled"
        assert f"| {word} |" in listed[fault.name], fault.name


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault(fault: Fault, demo_baseline, tmp_path) -> None:
    """One clear line and exit 1 (or handled, exit 0), never a traceback, nothing left over,
    the published snapshot byte-identical."""
    from flows.warehouse.recovery import leftovers

    if fault.needs_root and not can_mount():
        pytest.skip("needs root: a read-only bind mount or a small tmpfs")
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    copied = tmp_path / "sources"
    shutil.copytree(sources, copied)
    before = fingerprint(warehouse)
    world = World(warehouse, copied, tmp_path, before["snapshot"])

    code, output = fault.run(world)
    assert code == fault.exit, output
    assert "Traceback" not in output, output
    if fault.exit:
        last = output.strip().splitlines()[-1]
        assert last.startswith("toll: "), output
    for fragment in fault.expect:
        assert fragment in output, (fragment, output)
    assert "SECRET-FIRST-LINE" not in output  # a refused link's target is never quoted
    assert "❌" not in output
    assert_intact(warehouse, before)
    assert leftovers(warehouse) == []
