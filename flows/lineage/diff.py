"""`toll diff`: rows added, removed and changed between two snapshots, and what caused them.

Causes come from the two snapshots' lineage: a new vintage or a changed raw file of a source, a
changed SQL model, a changed result-affecting setting. Each changed column is attributed only to
the causes that reach it through the model graph.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from flows.errors import TollError
from flows.lineage.capture import reach, read_lineage

TOP_ROWS = 10
TOP_PER_COLUMN = 5


def causes_between(a: dict, b: dict) -> list[dict]:
    """Everything that differs in what the two snapshots were built from."""
    causes: list[dict] = []
    for view in sorted(set(a["raw"]) | set(b["raw"])):
        old = {f["file"]: f for f in a["raw"].get(view, {}).get("files", [])}
        new = {f["file"]: f for f in b["raw"].get(view, {}).get("files", [])}
        source = (b["raw"].get(view) or a["raw"][view])["source"]
        newest_old = max((f["as_of"] for f in old.values()), default="")
        grouped: dict[tuple[str, str], dict] = {}
        for name in sorted(set(old) | set(new)):
            before, after = old.get(name), new.get(name)
            if before and after and before["sha256"] == after["sha256"]:
                continue
            if (
                after
                and (before is None or after["as_of"] != before["as_of"])
                and (after["as_of"] > newest_old)
            ):
                kind, detail = "new vintage", f"vintage {after['as_of']} ({name})"
            elif before and after:
                kind = "changed raw file"
                detail = f"{name}: sha256 {before['sha256'][:12]} -> {after['sha256'][:12]}"
            elif after:
                kind, detail = "raw file added", f"{name} (as of {after['as_of']})"
            else:
                kind, detail = "raw file left out", f"{name} (as of {before['as_of']})"
            group = grouped.setdefault((kind, view), {"source": source, "items": []})
            group["items"].append(detail)
        for (kind, _), group in sorted(grouped.items()):
            items = group["items"]
            detail = items[0] if len(items) == 1 else f"{len(items)}: {items[0]} ... {items[-1]}"
            causes.append(
                {
                    "kind": kind,
                    "subject": view,
                    "source": group["source"],
                    "detail": detail,
                    "items": items,
                }
            )
    for name in sorted(set(a["models"]) | set(b["models"])):
        before, after = a["models"].get(name), b["models"].get(name)
        if before and after and before["sha256"] == after["sha256"]:
            continue
        path = (after or before)["path"]
        state = "changed" if before and after else ("added" if after else "removed")
        causes.append({"kind": "changed model", "subject": name, "detail": f"{path} {state}"})
    for name in sorted(set(a["settings"]) | set(b["settings"])):
        before, after = a["settings"].get(name), b["settings"].get(name)
        if before != after:
            causes.append(
                {
                    "kind": "changed configuration",
                    "subject": name,
                    "detail": f"{name}: {before} -> {after}",
                }
            )
    if a.get("git_commit") != b.get("git_commit"):
        causes.append(
            {
                "kind": "project version",
                "subject": "git",
                "detail": f"git {a.get('git_commit')} -> {b.get('git_commit')}",
            }
        )
    return causes


def _relevant(causes: list[dict], upstream: dict[str, set[str]]) -> list[dict]:
    hits = []
    for cause in causes:
        if cause["kind"] == "changed model":
            hit = cause["subject"] in upstream["models"]
        elif cause["kind"] == "changed configuration":
            hit = cause["subject"] in upstream["settings"]
        elif cause["kind"] == "project version":
            hit = False
        else:
            hit = cause["subject"] in upstream["raw"]
        if hit:
            hits.append(cause)
    return hits


def _cause_text(cause: dict, kind: bool = True) -> str:
    prefix = f"{cause['kind']} " if kind else ""
    if cause["kind"] in ("changed model", "changed configuration", "project version"):
        return f"{prefix}{cause['detail']}"
    return f"{prefix}{'of ' if kind else ''}{cause['source']}: {cause['detail']}"


def _plain(value: object) -> object:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def diff_table(a: Path, b: Path, table: str, keys: list[str]) -> dict:
    """Row-level comparison of one table in two snapshots, joined on its key."""
    path_a, path_b = a / f"{table}.parquet", b / f"{table}.parquet"
    old = pl.read_parquet(path_a) if path_a.exists() else None
    new = pl.read_parquet(path_b) if path_b.exists() else None
    if old is None and new is None:  # their lineage lists it as published: both are damaged
        raise TollError(
            f"snapshots {a.name} and {b.name}: table {table} is published by their lineage but "
            f"its file {table}.parquet is in neither (looked in {a} and {b})"
        )
    if old is None or new is None:
        return {
            "table": table,
            "added": new.height if old is None else 0,
            "removed": old.height if new is None else 0,
            "changed": 0,
            "unchanged": 0,
            "columns_changed": {},
            "columns_added": [],
            "columns_removed": [],
            "added_keys": [],
            "removed_keys": [],
            "note": "table only in " + ("the newer" if old is None else "the older") + " snapshot",
            "keys": keys,
        }
    common = [c for c in new.columns if c in old.columns and c not in keys]
    joined = old.with_columns(pl.lit(True).alias("__in_a")).join(
        new.with_columns(pl.lit(True).alias("__in_b")),
        on=keys,
        how="full",
        coalesce=True,
        nulls_equal=True,
        suffix="__b",
    )
    in_a, in_b = pl.col("__in_a").fill_null(False), pl.col("__in_b").fill_null(False)
    flags = []
    for column in common:
        before, after = pl.col(column), pl.col(f"{column}__b")
        if old.schema[column] != new.schema[column]:
            before, after = before.cast(pl.String), after.cast(pl.String)
        flags.append((~before.eq_missing(after)).alias(f"__changed_{column}"))
    joined = joined.with_columns(flags)
    changed_any = pl.any_horizontal([pl.col(f"__changed_{c}") for c in common] or [pl.lit(False)])
    joined = joined.with_columns(
        pl.when(in_a & in_b & changed_any)
        .then(pl.lit("changed"))
        .when(in_a & in_b)
        .then(pl.lit("unchanged"))
        .when(in_b)
        .then(pl.lit("added"))
        .otherwise(pl.lit("removed"))
        .alias("__status")
    )
    status = joined["__status"].value_counts()
    tally = dict(zip(status["__status"].to_list(), status["count"].to_list(), strict=True))
    changed_rows = joined.filter(pl.col("__status") == "changed")
    columns = {}
    for column in common:
        rows = changed_rows.filter(pl.col(f"__changed_{column}"))
        if rows.height:
            numeric = old.schema[column].is_numeric() and new.schema[column].is_numeric()
            largest = _largest(rows, column, keys, numeric)
            columns[column] = {"rows": rows.height, "largest": largest}
    keys_of = {
        state: [
            {k: _plain(v) for k, v in r.items()}
            for r in joined.filter(pl.col("__status") == state)
            .select(keys)
            .sort(keys)
            .head(TOP_ROWS)
            .to_dicts()
        ]
        for state in ("added", "removed")
    }
    return {
        "table": table,
        "keys": keys,
        "added": tally.get("added", 0),
        "removed": tally.get("removed", 0),
        "changed": tally.get("changed", 0),
        "unchanged": tally.get("unchanged", 0),
        "columns_changed": columns,
        "columns_added": [c for c in new.columns if c not in old.columns],
        "columns_removed": [c for c in old.columns if c not in new.columns],
        "added_keys": keys_of["added"],
        "removed_keys": keys_of["removed"],
    }


def _largest(rows: pl.DataFrame, column: str, keys: list[str], numeric: bool) -> list[dict]:
    """The rows where `column` moved most (a value appearing or vanishing counts as its size)."""
    before, after = pl.col(column), pl.col(f"{column}__b")
    if numeric:
        delta = after.cast(pl.Float64) - before.cast(pl.Float64)
        size = (
            delta.abs()
            .fill_null(after.cast(pl.Float64).abs())
            .fill_null(before.cast(pl.Float64).abs())
        )
        rows = rows.with_columns(delta.alias("__delta"), size.alias("__size")).sort(
            ["__size", *keys], descending=[True, *[False] * len(keys)], nulls_last=True
        )
    else:
        rows = rows.with_columns(pl.lit(None).alias("__delta")).sort(keys)
    return [
        {
            "key": {k: _plain(r[k]) for k in keys},
            "before": _plain(r[column]),
            "after": _plain(r[f"{column}__b"]),
            "delta": r["__delta"],
        }
        for r in rows.head(TOP_PER_COLUMN).to_dicts()
    ]


def diff_snapshots(a: Path, b: Path) -> dict:
    """Every published table of two snapshots compared, with causes; largest changes first."""
    lineage_a, lineage_b = read_lineage(a), read_lineage(b)
    for snapshot, lineage in ((a, lineage_a), (b, lineage_b)):
        if lineage is None:
            raise TollError(
                f"snapshot {snapshot.name} has no lineage (published before `toll diff` existed); "
                "`toll run --rebuild` publishes one that has"
            )
    causes = causes_between(lineage_a, lineage_b)
    tables = sorted(
        {n for lin in (lineage_a, lineage_b) for n, m in lin["models"].items() if m["published"]}
    )
    results = []
    for table in tables:
        spec = lineage_b["models"].get(table) or lineage_a["models"][table]
        result = diff_table(a, b, table, spec["keys"])
        lineage = lineage_b if table in lineage_b["models"] else lineage_a
        whole = reach(lineage, table)
        result["causes"] = _relevant(causes, whole) if result["added"] or result["removed"] else []
        for column, change in result["columns_changed"].items():
            found = _relevant(causes, reach(lineage, table, column))
            change["causes"] = list(
                dict.fromkeys(f"{c['kind']} of {c.get('source', c['subject'])}" for c in found)
            )
            for cause in found:
                if cause not in result["causes"]:
                    result["causes"].append(cause)
        if (result["changed"] or result["added"] or result["removed"]) and not result["causes"]:
            result["causes"] = [c for c in causes if c["kind"] == "project version"] or [
                {"kind": "unattributed", "subject": table, "detail": "no recorded input differs"}
            ]
        results.append(result)
    results.sort(key=lambda r: (-(r["added"] + r["removed"] + r["changed"]), r["table"]))
    return {
        "a": _describe(a, lineage_a),
        "b": _describe(b, lineage_b),
        "causes": causes,
        "tables": results,
    }


def _describe(snapshot: Path, lineage: dict) -> dict:
    meta_path = snapshot / "_snapshot.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    vintages = {
        raw["source"]: max((f["as_of"] for f in raw["files"]), default=None)
        for raw in lineage["raw"].values()
    }
    return {
        "snapshot": snapshot.name,
        "published_at": meta.get("published_at"),
        "run": lineage.get("run"),
        "git_commit": lineage.get("git_commit"),
        "settings": lineage["settings"],
        "newest_as_of": vintages,
    }


def _fmt(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render_markdown(result: dict, title: str = "What changed") -> str:
    a, b = result["a"], result["b"]
    lines = [
        f"# {title}",
        "",
        f"From snapshot `{a['snapshot']}` (published {a['published_at']}) "
        f"to `{b['snapshot']}` (published {b['published_at']}).",
        "",
        "## Causes (inputs that differ)",
        "",
    ]
    if not result["causes"]:
        lines.append("Nothing: same raw files, models and settings.")
    for cause in result["causes"]:
        lines.append(f"- **{cause['kind']}**: {_cause_text(cause, kind=False)}")
    lines += [
        "",
        "## Tables (most changed rows first)",
        "",
        "| table | added | removed | changed | unchanged | attributed to |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for t in result["tables"]:
        because = "; ".join(
            dict.fromkeys(f"{c['kind']} ({c.get('source', c['subject'])})" for c in t["causes"])
        )
        lines.append(
            f"| {t['table']} | {t['added']:,} | {t['removed']:,} | {t['changed']:,} | "
            f"{t['unchanged']:,} | {because or '-'} |"
        )
    for t in result["tables"]:
        if not (t["added"] or t["removed"] or t["changed"] or t["columns_added"]):
            continue
        lines += ["", f"### {t['table']}", ""]
        if t.get("note"):
            lines.append(t["note"])
        for state in ("added", "removed"):
            if t[f"columns_{state}"]:
                names = ", ".join(f"`{c}`" for c in t[f"columns_{state}"])
                lines.append(f"- column(s) {state}: {names}")
            if t[f"{state}_keys"]:
                shown = "; ".join(_key_text(k) for k in t[f"{state}_keys"])
                more = " ..." if t[state] > len(t[f"{state}_keys"]) else ""
                lines.append(f"- {t[state]:,} row(s) {state}: {shown}{more}")
        ordered = sorted(t["columns_changed"].items(), key=lambda kv: -kv[1]["rows"])
        for column, change in ordered:
            causes = "; ".join(change["causes"]) or "unattributed"
            lines.append(f"- `{column}`: {change['rows']:,} row(s) changed, because of {causes}")
            for row in change["largest"]:
                delta = f" ({_signed(row['delta'])})" if row["delta"] is not None else ""
                lines.append(
                    f"  - {_key_text(row['key'])}: {_fmt(row['before'])} -> "
                    f"{_fmt(row['after'])}{delta}"
                )
    return "\n".join(lines) + "\n"


def _signed(delta: float) -> str:
    if float(delta).is_integer():
        return f"{int(delta):+,}"
    return f"{delta:+,.4f}".rstrip("0").rstrip(".")


def _key_text(key: dict) -> str:
    text = ", ".join(f"{k}={_fmt(v)}" for k, v in key.items())
    return f"({text})" if len(key) > 1 else text


def changes_since(previous: Path | None, snapshot: Path) -> str:
    """The "what changed since the last publish" markdown of a new snapshot."""
    if previous is None:
        return (
            f"# What changed since the last publish\n\nSnapshot `{snapshot.name}` is the first "
            "one published in this warehouse: nothing to compare with.\n"
        )
    if read_lineage(previous) is None:
        return (
            f"# What changed since the last publish\n\nThe previous snapshot `{previous.name}` "
            "has no lineage (published before `toll diff` existed): nothing to compare with.\n"
        )
    return render_markdown(
        diff_snapshots(previous, snapshot), title="What changed since the last publish"
    )
