"""Run the hand-written DuckDB reference and compare its facts with a published snapshot."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

SCRIPT = Path(__file__).with_name("reference.sql")
# reference table -> (published table, key columns); every reference column is compared
TABLES = {
    "ref_weekly_losses": ("fct_weekly_losses", ["week_start"]),
    "ref_regional_losses": ("fct_regional_losses", ["region_code", "year", "unit_type"]),
}
RELATIVE_TOLERANCE = 1e-9


def run_reference(source_dir: Path, out_dir: Path) -> dict[str, int]:
    """Compute the reference facts from the raw files in `source_dir`; write them as Parquet."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    con = duckdb.connect()
    try:
        # the script names files relative to the source folder
        os.chdir(source_dir)
        con.execute(SCRIPT.read_text(encoding="utf-8"))
        rows = {}
        for table in TABLES:
            result = con.sql(f"select * from {table}").to_arrow_table()
            pq.write_table(result, out_dir / f"{table}.parquet")
            rows[table] = result.num_rows
        return rows
    finally:
        os.chdir(here)
        con.close()


def compare(reference_dir: Path, snapshot: Path, limit: int = 5) -> list[str]:
    """Differences between the reference facts and a snapshot's tables; empty when equal."""
    problems: list[str] = []
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    try:
        for ref_name, (published, keys) in TABLES.items():
            ref = _literal(reference_dir / f"{ref_name}.parquet")
            pub = _literal(snapshot / f"{published}.parquet")
            ref_types = _columns(con, ref)
            ref_cols = list(ref_types)
            pub_cols = set(_columns(con, pub))
            missing = [c for c in ref_cols if c not in pub_cols]
            if missing:
                problems.append(f"{published}: columns {missing} are missing")
                continue
            on = " and ".join(f'r."{k}" is not distinct from p."{k}"' for k in keys)
            joined = f"from read_parquet({ref}) r full join read_parquet({pub}) p on {on}"
            r_key, p_key = f'r."{keys[0]}"', f'p."{keys[0]}"'
            lost = con.execute(
                f"select count(*) filter (where {p_key} is null and {r_key} is not null),"
                f" count(*) filter (where {r_key} is null and {p_key} is not null) {joined}"
            ).fetchone()
            if lost[0] or lost[1]:
                problems.append(
                    f"{published}: {lost[0]} reference row(s) not published, "
                    f"{lost[1]} published row(s) not in the reference"
                )
            for column in (c for c in ref_cols if c not in keys):
                differs = _differs(f'r."{column}"', f'p."{column}"', ref_types[column])
                key_fields = ", ".join(f"'{k}': r.\"{k}\"" for k in keys)
                count, examples = con.execute(
                    f"select count(*), list({{{key_fields}, 'reference': r.\"{column}\", "
                    f"'published': p.\"{column}\"}})[1:{limit}] {joined} where {differs}"
                ).fetchone()
                if count:
                    problems.append(f"{published}.{column}: {count} row(s) differ, e.g. {examples}")
    finally:
        con.close()
    return problems


def _columns(con: duckdb.DuckDBPyConnection, parquet: str) -> dict[str, str]:
    described = con.execute(f"describe select * from read_parquet({parquet})").fetchall()
    return {row[0]: row[1] for row in described}


def _differs(a: str, b: str, kind: str) -> str:
    # floats may differ in the last bits (summation order); everything else must be identical
    if kind in ("DOUBLE", "FLOAT"):
        return (
            f"(case when {a} is not null and {b} is not null "
            f"then abs({a} - {b}) > {RELATIVE_TOLERANCE} * greatest(abs({a}), abs({b}), 1) "
            f"else {a} is distinct from {b} end)"
        )
    return f"{a} is distinct from {b}"


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
