"""`toll explain`: where one published row's figures came from, read from its snapshot's lineage."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from flows.errors import TollError
from flows.lineage.capture import LINEAGE, LINEAGE_ROWS, key_json, reach, read_lineage, walk
from flows.warehouse.layout import SNAPSHOTS, Warehouse, as_warehouse
from flows.warehouse.snapshots import METADATA, list_snapshots, local_object
from flows.warehouse.sql_names import quoted


def _lineage_of(snapshot: Path) -> dict:
    lineage = read_lineage(snapshot)
    if lineage is None:
        raise TollError(
            f"snapshot {snapshot.name} has no lineage (published before `toll explain` existed); "
            "`toll run --rebuild` publishes one that has"
        )
    return lineage


def find_row(snapshot: Path, table: str, keys: list[str], given: dict[str, str]) -> dict:
    """The one row of `table` whose columns equal the given values (compared as text)."""
    path = snapshot / f"{table}.parquet"
    con = duckdb.connect()
    try:
        rel = con.read_parquet(str(path))
        unknown = [c for c in given if c not in rel.columns]
        if unknown:
            raise TollError(
                f"{table} has no column {', '.join(unknown)}: its key is {', '.join(keys)}"
            )
        # `null` matches a missing value (e.g. the year of records without a date)
        where = " and ".join(
            f"t.{quoted(c)} is null" if v == "null" else f"t.{quoted(c)}::varchar = ?"
            for c, v in given.items()
        )
        values = [v for v in given.values() if v != "null"]
        found = con.execute(
            f"select *, {key_json(keys, 't')} as __key from read_parquet(?) as t"
            f" where {where or 'true'}",
            [str(path), *values],
        )
        names = [d[0] for d in found.description]
        rows = [dict(zip(names, r, strict=True)) for r in found.fetchmany(6)]
    finally:
        con.close()
    wanted = ", ".join(f"{k}={v}" for k, v in given.items())
    if not rows:
        raise TollError(
            f"{table} in snapshot {snapshot.name} has no row with {wanted} "
            f"(key: {', '.join(keys)}; values are compared as text, dates as YYYY-MM-DD)"
        )
    if len(rows) > 1:
        listed = "; ".join(r["__key"] for r in rows[:5])
        raise TollError(
            f"{table}: {wanted} matches more than one row ({listed} ...): "
            f"give every key column ({', '.join(keys)}) with --key"
        )
    return rows[0]


def _history(
    warehouse: Warehouse, snapshot: Path, table: str, key: str, measures: list[str]
) -> dict[str, list]:
    """Each measure's value for the same key in the snapshots published before this one."""
    history: dict[str, list] = {m: [] for m in measures}
    con = duckdb.connect()
    try:
        for meta in list_snapshots(warehouse):
            if meta["snapshot"] >= snapshot.name:
                continue
            # on object storage only the two objects needed are fetched into the mirror
            prefix = f"{SNAPSHOTS}/{meta['snapshot']}"
            other = local_object(warehouse, f"{prefix}/{LINEAGE}").parent
            lineage = read_lineage(other)
            if lineage is None:
                continue
            spec = lineage["models"].get(table)
            if spec is None or not local_object(warehouse, f"{prefix}/{table}.parquet").exists():
                continue
            found = con.execute(
                f"select * from read_parquet(?) as t where {key_json(spec['keys'], 't')} = ?",
                [str(other / f"{table}.parquet"), key],
            )
            names = [d[0] for d in found.description]
            row = found.fetchone()
            values = dict(zip(names, row, strict=True)) if row else {}
            for measure in measures:
                history[measure].append(
                    {
                        "snapshot": meta["snapshot"],
                        "published_at": meta.get("published_at"),
                        "value": values.get(measure) if row else None,
                        "row_exists": row is not None,
                        "as_of": values.get("as_of"),
                        "settings_as_of": (meta.get("settings") or {}).get("as_of"),
                    }
                )
    finally:
        con.close()
    return history


def explain(
    warehouse: Warehouse | Path,
    snapshot: Path,
    table: str,
    given: dict[str, str],
    measures: list[str] | None = None,
) -> dict:
    """Per measure of one row: value, model chain, raw files, raw rows, expectations, history."""
    warehouse = as_warehouse(warehouse)
    lineage = _lineage_of(snapshot)
    spec = lineage["models"].get(table)
    if spec is None or not spec["published"]:
        published = sorted(n for n, m in lineage["models"].items() if m["published"])
        raise TollError(f"no published table {table!r}: one of {', '.join(published)}")
    keys = spec["keys"]
    row = find_row(snapshot, table, keys, given)
    key = row.pop("__key")
    # attributes of the key's dimension (iso_year of a week) are not measures
    attributes = [c for c in row if c not in keys and _from_dimension(lineage, table, c)]
    columns = [c for c in row if c not in keys and c not in attributes]
    if measures:
        unknown = [m for m in measures if m not in row]
        if unknown:
            raise TollError(f"{table} has no column {', '.join(unknown)}")
        columns = list(measures)

    counts = _row_counts(snapshot, table, key)
    files_by_sha = {
        f["sha256"]: {**f, "raw_view": view}
        for view, raw in lineage["raw"].items()
        for f in raw["files"]
    }
    covered = {m: reach(lineage, m)["raw"] for m in {c["model"] for c in counts}}
    history = _history(warehouse, snapshot, table, key, columns)
    vintages = _vintages(snapshot, lineage, table, {k: row[k] for k in keys}, columns)
    metadata = json.loads((snapshot / METADATA).read_text(encoding="utf-8"))
    explained = []
    for column in columns:
        upstream = reach(lineage, table, column)
        rows_here = [c for c in counts if c["model"] in upstream["models"]]
        counted_views = set().union(*(covered[c["model"]] for c in rows_here))
        raw_files = []
        for view in sorted(upstream["raw"]):
            raw = lineage["raw"].get(view, {"files": []})
            for entry in raw["files"]:
                rows = [c["rows"] for c in rows_here if c["file_sha256"] == entry["sha256"]]
                if view in counted_views and not rows:
                    continue  # e.g. an older vintage: in use by the build, not by this row
                raw_files.append(
                    {
                        "source": raw.get("source"),
                        "file": entry["file"],
                        "url": entry["url"],
                        "sha256": entry["sha256"],
                        "fetched_at": entry["fetched_at"],
                        "as_of": entry["as_of"],
                        "file_rows": entry["rows"],
                        "rows_contributed": sum(rows) if rows else None,
                    }
                )
        explained.append(
            {
                "measure": column,
                "value": row[column],
                "chain": walk(lineage, table, column),
                "raw_files": raw_files,
                "raw_rows": sum(c["rows"] for c in rows_here) if rows_here else None,
                "rows_counted_in": sorted({c["model"] for c in rows_here}),
                "settings": {s: lineage["settings"].get(s) for s in sorted(upstream["settings"])},
                "expectations": _expectations(lineage, table, column, upstream),
                "earlier_snapshots": history[column],
                "by_vintage": vintages.get(column),
            }
        )
    return {
        "table": table,
        "grain": spec["grain"],
        "key": json.loads(key),
        "snapshot": snapshot.name,
        "published_at": metadata.get("published_at"),
        "run": lineage.get("run") or metadata.get("run"),
        "git_commit": lineage.get("git_commit"),
        "toll_version": metadata.get("toll_version"),
        "settings": lineage["settings"],
        "row": {k: row[k] for k in keys},
        "attributes": {c: row[c] for c in attributes},
        "measures": explained,
        "unknown_sha256": sorted({c["file_sha256"] for c in counts} - set(files_by_sha)),
    }


def _vintages(
    snapshot: Path, lineage: dict, table: str, key: dict, measures: list[str]
) -> dict[str, dict]:
    """The same figure in every vintage, from a published table keyed by this key plus `as_of`.

    fct_named_vintages (week_start, as_of) holds what fct_weekly_losses (week_start) would have
    said in each Mediazona vintage: only the vintages where the figure moved are kept.
    """
    found: dict[str, dict] = {}
    keys = lineage["models"][table]["keys"]
    for name, spec in sorted(lineage["models"].items()):
        if not spec["published"] or name == table or spec["keys"] != [*keys, "as_of"]:
            continue
        shared = [m for m in measures if m in spec["columns"] and m not in found]
        if not shared:
            continue
        con = duckdb.connect()
        try:
            where = " and ".join(f"t.{quoted(k)} is not distinct from ?" for k in keys)
            picked = ", ".join(quoted(m) for m in shared)
            result = con.execute(
                f"select as_of, {picked} from read_parquet(?) as t where {where} order by as_of",
                [str(snapshot / f"{name}.parquet"), *key.values()],
            ).fetchall()
        finally:
            con.close()
        for i, measure in enumerate(shared, start=1):
            moves, last = [], object()
            for record in result:
                if record[i] != last:
                    moves.append({"as_of": record[0], "value": record[i]})
                    last = record[i]
            found[measure] = {"table": name, "vintages": len(result), "changes": moves}
    return found


def _from_dimension(lineage: dict, table: str, column: str) -> bool:
    """A column copied from a dimension joined on this table's key (iso_year of a week)."""
    upstream = lineage["models"][table]["columns"].get(column, {}).get("from", [])
    keys = set(lineage["models"][table]["keys"])
    for item in upstream:
        name = item.rpartition(".")[0]
        spec = lineage["models"].get(name)
        if not name.startswith("dim_") or spec is None or not set(spec["keys"]) <= keys:
            return False
    return bool(upstream)


def _row_counts(snapshot: Path, table: str, key: str) -> list[dict]:
    path = snapshot / LINEAGE_ROWS
    if not path.exists():
        return []
    con = duckdb.connect()
    try:
        found = con.execute(
            'select model, file_sha256, "rows" from read_parquet(?)'
            ' where "table" = ? and "key" = ?',
            [str(path), table, key],
        ).fetchall()
    finally:
        con.close()
    return [{"model": m, "file_sha256": s, "rows": r} for m, s, r in found]


def _expectations(lineage: dict, table: str, column: str, upstream: dict) -> dict:
    """The checks on this column (and on the whole table), and a tally of the upstream suites."""
    own, tally = [], {}
    suites = upstream["models"] | upstream["raw"]
    for check in lineage["expectations"]:
        if check["suite"] == table and check["column"] in (column, None):
            own.append(check)
        elif check["suite"] in suites:
            passed, failed = tally.setdefault(check["suite"], [0, []])
            if check["success"]:
                tally[check["suite"]][0] += 1
            else:
                failed.append(check)
    return {
        "on_this_column": own,
        "upstream": {s: {"passed": p, "failed": f} for s, (p, f) in sorted(tally.items())},
    }


def _fmt(value: object, name: str = "") -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        # years, week numbers and row numbers read wrong with a thousands separator
        plain = any(part in name for part in ("year", "week", "row"))
        return str(value) if plain else f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return str(value)


def _tree_lines(node: dict, depth: int = 0) -> list[str]:
    where = node.get("file") or (f"source {node['source']}" if node.get("source") else "")
    arrow = "← " if depth else ""
    lines = [f"{'  ' * depth}{arrow}{node['node']}  [{where}]"]
    for child in node["from"]:
        lines += _tree_lines(child, depth + 1)
    if node.get("truncated"):
        lines.append(f"{'  ' * (depth + 1)}... (more upstream columns)")
    return lines


def _compact(files: list[dict]) -> list[dict]:
    """Many uncounted files of one source (every vintage in use) shown as one line."""
    shown, by_source = [], {}
    for f in files:
        by_source.setdefault((f["source"], f["rows_contributed"] is None), []).append(f)
    for (source, uncounted), group in by_source.items():
        if uncounted and len(group) > 3:
            dates = sorted(f["as_of"] for f in group)
            shown.append(
                {"source": source, "files": len(group), "first": dates[0], "last": dates[-1]}
            )
        else:
            shown += group
    return shown


def render(result: dict) -> str:
    """Plain text for the terminal (and for pasting into a note)."""
    key = ", ".join(f"{k}={_fmt(v, k)}" for k, v in result["key"].items())
    run = result.get("run") or {}
    lines = [
        f"{result['table']} {key}",
        f"  snapshot {result['snapshot']}, published {result['published_at']}, "
        f"run {run.get('flow_run_name', '-')} ({run.get('flow_run_id', '-')})",
        f"  toll {result['toll_version']}, git {result['git_commit'] or 'unknown'}",
        f"  grain: {result['grain']}",
    ]
    if result["attributes"]:
        shown = ", ".join(f"{k}={_fmt(v, k)}" for k, v in result["attributes"].items())
        lines.append(f"  attributes: {shown}")
    lines += [
        "",
    ]
    for item in result["measures"]:
        lines.append(f"{item['measure']} = {_fmt(item['value'], item['measure'])}")
        lines.append("  model chain:")
        lines += [f"    {line}" for line in _tree_lines(item["chain"])]
        if item["raw_files"]:
            lines.append("  raw files:")
        for f in _compact(item["raw_files"]):
            if "files" in f:
                lines.append(
                    f"    {f['source']}: {f['files']} files in use, vintages {f['first']} .. "
                    f"{f['last']} (rows not counted per row)"
                )
                continue
            contributed = (
                f"{f['rows_contributed']:,} raw row(s) contributed"
                if f["rows_contributed"] is not None
                else "rows not counted per row (whole file in use)"
            )
            lines.append(
                f"    {f['source']}: {f['file']}  vintage/as-of {f['as_of']}  "
                f"fetched {f['fetched_at']}"
            )
            lines.append(f"      sha256 {f['sha256']}  ({f['file_rows']:,} rows in file)")
            lines.append(f"      {f['url']}")
            lines.append(f"      {contributed}")
        if item["raw_rows"] is not None:
            where = ", ".join(item["rows_counted_in"])
            lines.append(f"  raw rows: {item['raw_rows']:,} (counted in {where})")
        if item["settings"]:
            values = ", ".join(f"{k}={v}" for k, v in item["settings"].items())
            lines.append(f"  settings: {values}")
        checks = item["expectations"]
        lines.append("  validated in the publishing run by:")
        for c in checks["on_this_column"]:
            status = "passed" if c["success"] else f"FAILED ({c['severity']})"
            where = f"{c['suite']}.{c['column']}" if c["column"] else c["suite"]
            lines.append(f"    {where}: {c['expectation']} {status}")
        for suite, tally in checks["upstream"].items():
            failed = tally["failed"]
            note = f", {len(failed)} failed (warning or error)" if failed else ""
            lines.append(f"    {suite}: {tally['passed']} expectation(s) passed{note}")
        if not checks["on_this_column"] and not checks["upstream"]:
            lines.append("    (no expectation covers this column)")
        history = item["by_vintage"]
        if history and history["changes"]:
            moves = ", ".join(
                f"{c['as_of']}: {_fmt(c['value'], item['measure'])}" for c in history["changes"]
            )
            lines.append(
                f"  by vintage ({history['table']}, {history['vintages']} vintages, "
                f"shown where it moved): {moves}"
            )
        earlier = [h for h in item["earlier_snapshots"] if h["value"] != item["value"]]
        if earlier:
            lines.append("  different in earlier snapshots:")
            for h in earlier:
                value = _fmt(h["value"]) if h["row_exists"] else "(no such row)"
                vintage = h["as_of"] or h["settings_as_of"] or "-"
                lines.append(
                    f"    {value} in snapshot {h['snapshot']} (as_of {vintage}, "
                    f"published {h['published_at']})"
                )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
