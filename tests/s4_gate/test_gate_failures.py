"""A failed check names where its rows came from: the source, the raw file and its sha256."""

from __future__ import annotations

import duckdb

from flows.s4_gate.failures import Origins, origin
from flows.warehouse.raw_store import ManifestEntry

OLD, NEW, OTHER = "a" * 64, "b" * 64, "c" * 64


def _entry(source: str, file: str, sha: str, as_of: str = "2026-01-01") -> ManifestEntry:
    return ManifestEntry(source, file, "u", sha, 1, "t", as_of, 10, 0, "r", "p", None)


def _origins() -> Origins:
    claims = _entry("official_claims", "ua/claims.json", NEW)
    census = _entry("census_men", "b/census.csv", OTHER)
    return Origins(
        by_sha={NEW: claims, OTHER: census},
        in_use={"official_claims": [claims], "census_men": [census]},
        before={
            "official_claims": [{"file": "ua/claims.json", "sha256": OLD}],
            "census_men": [{"file": "b/census.csv", "sha256": OTHER}],
        },
        previous="20261201T000000Z",
    )


def test_rows_with_a_file_sha256_name_their_file_and_count() -> None:
    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values (?, 3, 5), (?, 4, 7), (?, 9, 1)) "
        "as v(file_sha256, source_row, personnel)",
        [NEW, NEW, OTHER],
    )
    text = origin(con, "select * from t", {}, _origins())
    assert text.startswith(f"source official_claims, file ua/claims.json (sha256 {NEW}): 2 row(s)")
    assert f"source census_men, file b/census.csv (sha256 {OTHER}): 1 row(s)" in text


def test_rows_naming_a_source_give_its_changed_file_and_the_sha256_it_had_before() -> None:
    con = duckdb.connect()
    con.execute("create table t as select 'official_claims' as source, date '2026-08-08' as d")
    text = origin(con, "select * from t", {}, _origins())
    assert text == (
        f"source official_claims, file ua/claims.json (sha256 {NEW}, new since snapshot "
        f"20261201T000000Z where it had sha256 {OLD})"
    )


def test_an_unchanged_source_names_the_file_it_reads_and_a_suite_source_is_used() -> None:
    con = duckdb.connect()
    con.execute("create table t as select 1 as x")
    text = origin(con, "select * from t", {"source": "census_men"}, _origins())
    assert text == f"source census_men, file b/census.csv (sha256 {OTHER})"
    assert origin(con, "select * from t", {}, _origins()) == ""


def test_rows_per_source_compare_with_the_files_the_previous_snapshot_read() -> None:
    from flows.s4_gate.gate import accepted_shrinks, source_rows

    origins = _origins()
    old = _entry("official_claims", "ua/claims.json", OLD)
    origins.stored = {("official_claims", OLD): old, ("census_men", OTHER): origins.by_sha[OTHER]}
    origins.in_use["official_claims"] = [
        ManifestEntry(**{**old.__dict__, "sha256": NEW, "rows": 8})
    ]
    rows = {r["source"]: r for r in source_rows(origins).iter_rows(named=True)}
    assert rows["official_claims"] == {
        "source": "official_claims",
        "files_before": 1,
        "rows_before": 10,
        "files_now": 1,
        "rows_now": 8,
    }
    assert rows["census_men"]["rows_before"] == rows["census_men"]["rows_now"] == 10
    (line,) = accepted_shrinks(source_rows(origins), "official_claims", origins.previous)
    assert line.startswith("source official_claims: 8 rows in 1 file(s), 10 in 1 in snapshot")
    assert accepted_shrinks(source_rows(origins), "census_men", origins.previous) == []
