"""The bad-input corpus: each case breaks one file of the generated sample sources one way.

A case says which source file it replaces, how, at which stage toll catches it and what the
operator is told. `error` cases stop the run with that message; `quarantine` cases put the bad
row in quarantine with that reason (the run then publishes without it, or stops when the gate
finds too many quarantined rows for the source); `accepted` cases are harmless variants that
must give the same tables. The README's "Bad inputs" table lists the same cases
(tests/test_bad_input_corpus.py keeps the two in step).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MEDIAZONA = "mediazona/last_data.csv"
WEEKLY = "economist/meduza_2026_weekly.csv"
RECORDS = "bessudnov/dfFatalitiesAnonymised.csv"
CENSUS = "bessudnov/census2021_nMen16-615.csv"
REGION_NAMES = "bessudnov/regNames.csv"
REGIONS = "regions/hflabs_region.csv"
CLAIMS = "ua_general_staff/russia_losses_personnel.json"
AREA = "economist/area_assessed_as_controlled_by_russia.csv"
ESTIMATES = "economist/soldier_deaths_casualties_estimates.csv"
MAP = "deepstate/deepstatemaps_history_weekly/1754251105.geojson.gz"

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    file: str
    what: str  # the defect, for the README
    mutate: Callable[[bytes], bytes]
    outcome: str  # "error" | "quarantine" | "accepted"
    stage: str  # where it is caught: "parse" | "gate" | "staging" | "-"
    # fragments of the error message, or of the quarantined row's reason and value
    expect: tuple[str, ...] = ()
    row: int | None = None  # the record the quarantine entry must point at
    # "table.column" an accepted case may change (a repaired map adds a polygon, not area)
    may_change: tuple[str, ...] = ()
    # rows the parser rejects in a case caught later (the gate's quarantine share)
    rejected: int = 0


# --- editing helpers: parse the sample file, change it, write it back in the same format ---


def _edit_csv(edit: Callable[[list[str], list[list[str]]], tuple[list[str], list[list[str]]]]):
    def mutate(content: bytes) -> bytes:
        bom = content.startswith(BOM)
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
        header, body = edit(rows[0], rows[1:])
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *body])
        return (BOM if bom else b"") + out.getvalue().encode()

    return mutate


def _set_cell(row: int, column: str, value: str):
    """Record `row` (1-based, header not counted) gets `value` in `column`."""

    def edit(header, body):
        body[row - 1][header.index(column)] = value
        return header, body

    return _edit_csv(edit)


def _rename_column(old: str, new: str):
    return _edit_csv(lambda h, b: ([new if c == old else c for c in h], b))


def _drop_column(column: str):
    def edit(header, body):
        i = header.index(column)
        return header[:i] + header[i + 1 :], [r[:i] + r[i + 1 :] for r in body]

    return _edit_csv(edit)


def _add_column(column: str, value: str):
    return _edit_csv(lambda h, b: ([*h, column], [[*r, value] for r in b]))


def _duplicate_row(row: int):
    return _edit_csv(lambda h, b: (h, b[:row] + [list(b[row - 1])] + b[row:]))


def _map_column(column: str, change: Callable[[str], str]):
    def edit(header, body):
        i = header.index(column)
        return header, [[*r[:i], change(r[i]), *r[i + 1 :]] for r in body]

    return _edit_csv(edit)


def _edit_json(edit: Callable[[list[dict]], object]):
    def mutate(content: bytes) -> bytes:
        return json.dumps(edit(json.loads(content)), indent=4).encode()

    return mutate


def _set_claim(position: int, key: str, value: object):
    def edit(records):
        records[position - 1][key] = value
        return records

    return _edit_json(edit)


def _claims_going_down(records):
    records[99]["personnel"] = records[98]["personnel"] - 1000  # record 100 below record 99
    return records


def _claims_from_the_future(records):
    records.append({**records[-1], "date": "2099-12-31", "personnel": 10**7})
    return records


def _cut_mid_line(content: bytes) -> bytes:
    return content[: content.rstrip(b"\n").rfind(b",") - 4]  # inside the last record


def _edit_map(edit: Callable[[bytes], bytes]):
    """The staged maps are gzip of the upstream file: edit the GeoJSON inside."""
    return lambda content: gzip.compress(edit(gzip.decompress(content)), mtime=0)


def _drop_lines_at_end(count: int):
    """The file cut cleanly at a line end, `count` records before its end (well formed)."""

    def mutate(content: bytes) -> bytes:
        lines = content.rstrip(b"\n").split(b"\n")
        return b"\n".join(lines[:-count]) + b"\n"

    return mutate


def _drop_rows(keep: Callable[[int, dict], bool]):
    """Records for which `keep(position, record)` is false are left out (1-based positions)."""

    def edit(header, body):
        kept = [r for i, r in enumerate(body, 1) if keep(i, dict(zip(header, r, strict=True)))]
        return header, kept

    return _edit_csv(edit)


def _fewer_names_in_2022(header, body):
    """A Mediazona vintage whose 2022 days lost 40% of their names (running total kept true)."""
    total = 0
    rows = []
    for day, change, _ in body:
        count = int(change) * 6 // 10 if day.startswith("2022") else int(change)
        total += count
        rows.append([day, str(count), str(total)])
    return header, rows


def _every_tenth_date_unreadable(header, body):
    i = header.index("date")
    for position, row in enumerate(body):
        if position % 10 == 0:
            row[i] = "/".join(reversed(row[i].split("-")))  # 2022-02-24 -> 24/02/2022
    return header, body


OCCUPIED_LABEL = "Окуповано /// Occupied /// geoJSON.status.occupied"


def _on_occupied(change: Callable[[list[dict]], None]):
    def edit(text: bytes) -> bytes:
        document = json.loads(text)
        change(document["features"])
        return json.dumps(document, ensure_ascii=False).encode()

    return edit


def _empty_occupied(features: list[dict]) -> None:
    first = next(f for f in features if f["properties"].get("name", "").strip() == OCCUPIED_LABEL)
    first["geometry"] = {"type": "GeometryCollection", "geometries": []}


def _bow_tie_in_crimea(features: list[dict]) -> None:
    # a self-intersecting ring well inside land already occupied: repaired, area unchanged
    ring = [[34.0, 45.0], [34.05, 45.05], [34.05, 45.0], [34.0, 45.05], [34.0, 45.0]]
    features.append(
        {
            "type": "Feature",
            "properties": {"name": OCCUPIED_LABEL},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
    )


def _relabel(text: bytes) -> bytes:
    # a label format nobody told toll about, in every language
    old = "Окуповано /// Occupied /// geoJSON.status.occupied"
    return text.replace(old.encode(), "Шар 1 /// Layer 1 /// geoJSON.layer1".encode())


CASES: list[Case] = [
    Case("empty file", "mediazona_daily", MEDIAZONA, "0 bytes", lambda c: b"",
         "error", "parse", ("source 'mediazona_daily'", "last_data.csv", "the file is empty")),
    Case("header only", "weekly_named", WEEKLY, "the header line and no rows",
         lambda c: c.split(b"\n", 1)[0] + b"\n",
         "error", "parse", ("source 'weekly_named'", "no data rows after the header")),
    Case("truncated last line (CSV)", "territory_area", AREA,
         "the download stops inside the last line", _cut_mid_line,
         "quarantine", "parse", ("field(s), expected 6", "a line cut short"), row=400),
    Case("truncated quoted field (CSV)", "named_records", RECORDS,
         "the download stops inside a quoted multi-line cell", lambda c: c[:-20],
         "error", "parse", ("source 'named_records'", "dfFatalitiesAnonymised.csv", "line",
                            "well-formed CSV")),
    Case("truncated JSON", "official_claims", CLAIMS, "the download stops half way",
         lambda c: c[: len(c) // 2],
         "error", "parse", ("source 'official_claims'", "line", "column", "valid JSON")),
    Case("JSON shape changed", "official_claims", CLAIMS,
         "the array is wrapped in an object", lambda c: b'{"data": ' + c + b"}",
         "error", "parse", ("source 'official_claims'", "top level",
                            "a non-empty JSON array of objects")),
    Case("wrong encoding (cp1251)", "regions", REGIONS,
         "Russian names in cp1251 where UTF-8 is expected",
         lambda c: c.decode().encode("cp1251"),
         "error", "parse", ("source 'regions'", "line 2", "UTF-8 text (is it cp1251?)")),
    Case("BOM", "census_men", CENSUS, "a UTF-8 byte-order mark before the header",
         lambda c: BOM + c, "accepted", "-"),
    Case("CRLF line ends", "region_names", REGION_NAMES, "Windows line ends",
         lambda c: c.replace(b"\n", b"\r\n"), "accepted", "-"),
    Case("wrong delimiter", "mediazona_daily", MEDIAZONA, "';' instead of ','",
         lambda c: c.replace(b",", b";"),
         "error", "parse", ("source 'mediazona_daily'", "missing column(s)",
                            "found ['date;change;total']")),
    Case("renamed column", "named_records", RECORDS,
         "deathConfirmedDate renamed death_confirmed_date",
         _rename_column("deathConfirmedDate", "death_confirmed_date"),
         "error", "parse", ("source 'named_records'", "['deathConfirmedDate']",
                            "death_confirmed_date")),
    Case("missing column", "territory_area", AREA,
         "area_assessed_as_russia_controlled left out",
         _drop_column("area_assessed_as_russia_controlled"),
         "error", "parse", ("source 'territory_area'", "['area_assessed_as_russia_controlled']")),
    Case("extra column", "weekly_named", WEEKLY, "a new column `Notes` at the end",
         _add_column("Notes", "n/a"), "accepted", "-"),
    Case("types changed", "mediazona_daily", MEDIAZONA,
         "every `change` written as a decimal (`25.5`)",
         _map_column("change", lambda v: f"{v}.5"),
         "error", "parse", ("source 'mediazona_daily'", "rows rejected", "row 1",
                            "change: expected int", "did a column change type")),
    Case("one value of the wrong type", "official_claims", CLAIMS,
         "personnel of record 37 is `\"n/a\"`", _set_claim(37, "personnel", "n/a"),
         "quarantine", "parse", ("personnel: expected int, got 'n/a'",), row=37),
    Case("unparseable date", "territory_area", AREA, "a date written `31/12/2022`",
         _set_cell(12, "date", "31/12/2022"),
         "quarantine", "parse", ("date: expected date, got '31/12/2022'",), row=12),
    Case("duplicated row (daily series)", "official_claims", CLAIMS,
         "record 50 appears twice", _edit_json(lambda r: r[:50] + [r[49]] + r[50:]),
         "error", "gate", ("raw_official_claims.date",)),
    Case("duplicated row (records)", "named_records", RECORDS,
         "record 10 appears twice, same id", _duplicate_row(10),
         "error", "gate", ("raw_named_records.id",)),
    Case("date in the future", "official_claims", CLAIMS, "a report dated 2099-12-31",
         _edit_json(_claims_from_the_future),
         "error", "gate", ("raw_official_claims.date",)),
    Case("date before the war", "named_records", RECORDS, "a death confirmed on 2021-06-01",
         _set_cell(5, "deathConfirmedDate", "2021-06-01"),
         "error", "gate", ("raw_named_records.deathConfirmedDate",)),
    Case("impossible age", "named_records", RECORDS, "age 250",
         _set_cell(8, "age", "250"),
         "quarantine", "parse", ("age: expected 14..100, got 250",), row=8),
    Case("negative count", "mediazona_daily", MEDIAZONA, "change = -5 on one day",
         _set_cell(20, "change", "-5"),
         "error", "gate", ("raw_mediazona_daily.change",)),
    Case("negative population", "census_men", CENSUS, "men aged 16-61 = -90000",
         _set_cell(3, "nMen16_615_2021", "-90000"),
         "error", "gate", ("raw_census_men.nMen16_615_2021",)),
    Case("non-monotonic cumulative series", "official_claims", CLAIMS,
         "cumulative personnel falls at record 100", _edit_json(_claims_going_down),
         "error", "gate", ("raw_official_claims",)),
    Case("week out of range", "weekly_named", WEEKLY, "ISO week 54",
         _set_cell(3, "Week", "54"),
         "quarantine", "parse", ("Week: expected 1..53, got 54",), row=3),
    Case("huge field", "named_records", RECORDS, "a 2,000,000-character `source` cell",
         _set_cell(4, "source", "x" * 2_000_000),
         "quarantine", "parse", ("source: expected at most 10,000 characters, got 2000000",),
         row=4),
    Case("unknown region spelling", "named_records", RECORDS, "region `Moskow Oblast`",
         _set_cell(6, "region", "Moskow Oblast"),
         "quarantine", "staging", ("Moskow Oblast",), row=6),
    Case("malformed region code", "regions", REGIONS, "iso_code `RU MOS` (space, no dash)",
         _set_cell(1, "iso_code", "RU MOS"),
         "error", "gate", ("raw_regions",)),
    Case("ambiguous region name", "region_names", REGION_NAMES,
         "two regions share the English name `Tuva`", _set_cell(1, "regNameEng", "Tuva"),
         "error", "gate", ("raw_region_names.regNameEng",)),
    Case("estimate without a figure", "published_estimates", ESTIMATES,
         "an estimate whose only figure is left empty", _set_cell(2, "estimate", ""),
         "quarantine", "parse", ("expected at least one number",), row=2),
    Case("map labels renamed", "territory", MAP,
         "the Occupied layer's label becomes `Шар 1 /// Layer 1 /// geoJSON.layer1`",
         _edit_map(_relabel),
         "error", "parse", ("source 'territory'", "1754251105.geojson", "no polygon labelled",
                            "occupied")),
    Case("truncated map", "territory", MAP, "the GeoJSON stops half way",
         _edit_map(lambda c: c[: len(c) // 2]),
         "error", "parse", ("source 'territory'", "1754251105.geojson", "JSON",
                            "a GeoJSON FeatureCollection")),
    Case("empty geometry collection", "territory", MAP,
         "an Occupied feature whose geometry is an empty GeometryCollection",
         _edit_map(_on_occupied(_empty_occupied)),
         "error", "parse", ("source 'territory'", "1754251105.geojson", "empty geometry",
                            "polygon coordinates")),
    Case("self-intersecting geometry", "territory", MAP,
         "a bow-tie (self-intersecting) Occupied polygon inside Crimea",
         _edit_map(_on_occupied(_bow_tie_in_crimea)),
         "accepted", "-",
         may_change=("fct_territory_snapshots.polygons", "fct_territory_snapshots.file_sha256")),
    # --- complete but shorter than what the current snapshot was built from (issue 17) ---
    Case("claims lose their last reports", "official_claims", CLAIMS,
         "the last 100 daily reports missing (well-formed JSON)",
         _edit_json(lambda r: r[:-100]),
         "error", "gate", ("claims_days_kept", "first rows: date=", "before=", "now=None")),
    Case("claims history shrinks", "official_claims", CLAIMS,
         "the first 30 daily reports missing: the history starts a month late",
         _edit_json(lambda r: r[30:]),
         "error", "gate", ("claims_days_kept", "date=2022-", "now=None")),
    Case("latest vintage cut early", "mediazona_daily", MEDIAZONA,
         "the latest file cut cleanly at a line end, 25 days early",
         _drop_lines_at_end(25),
         "error", "gate", ("named_vintage_not_earlier", "before_last_named_day=",
                           "now_last_named_day=")),
    Case("vintage lowers past weeks", "mediazona_daily", MEDIAZONA,
         "the latest file with 40% fewer names on every day of 2022",
         _edit_csv(_fewer_names_in_2022),
         "error", "gate", ("vintage_does_not_lower_past_weeks", "week_start=2022-",
                           "before=", "now=")),
    Case("census loses regions", "census_men", CENSUS, "Moscow Oblast's row missing",
         _drop_rows(lambda i, r: r["regNameISO"] != "MOS"),
         "error", "gate", ("census_denominators_kept", "region_code=RU-MOS", "now=None")),
    Case("region codes lost", "regions", REGIONS, "RU-MOS's row missing from the regions file",
         _drop_rows(lambda i, r: r["iso_code"] != "RU-MOS"),
         "error", "gate", ("region_codes_kept", "region_code=RU-MOS", "now=None")),
    Case("source loses rows", "named_records", RECORDS, "every 20th record missing (5%)",
         _drop_rows(lambda i, r: i % 20 != 0),
         "error", "gate", ("rows_not_dropped", "rows_before=300", "rows_now=285")),
    Case("area series loses days", "territory_area", AREA,
         "the last 30 days cut at a line end", _drop_lines_at_end(30),
         "error", "gate", ("area_days_kept", "first rows: date=", "now=None")),
    Case("quarantine share breached", "territory_area", AREA,
         "every 10th date written `24/02/2022` (40 of 400 rows)",
         _edit_csv(_every_tenth_date_unreadable),
         "error", "gate", ("share_below_threshold", "quarantined_rows=40"), rejected=40),
]  # fmt: skip

CASES_BY_NAME = {case.name: case for case in CASES}


# --- faults: what the operator runs into besides a bad file (an odd argument, a warehouse that
# is not there or cannot be written, a full disk, a killed run's leftovers, hostile text in a
# file, a link leaving the source folder). Each runs the CLI in-process on a copy of a
# published demo warehouse; the README lists them in the "Bad inputs" section's second table.


@dataclass(frozen=True)
class World:
    warehouse: Path  # a copy of a published demo warehouse
    sources: Path  # a copy of its sample sources
    tmp: Path
    snapshot: str  # its current snapshot id


@dataclass(frozen=True)
class Fault:
    name: str
    what: str  # the fault, for the README
    run: Callable[[World], tuple[int | None, str]]  # what the operator runs: (exit, output)
    exit: int  # 1: refused with one line; 0: handled (the leftovers are swept)
    expect: tuple[str, ...]  # fragments of what the operator is told
    needs_root: bool = False  # a read-only bind mount or a small tmpfs


def _cli(*args: str, **env: str) -> tuple[int | None, str]:
    from helpers.cli_testing import toll

    return toll(*args, env={"TOLL_VERIFY_CHECKSUMS": "false", **env})


def _run(world: World, *extra: str, sources: Path | None = None) -> tuple[int | None, str]:
    where = ["--warehouse", str(world.warehouse), "--source-dir", str(sources or world.sources)]
    return _cli("run", *where, *extra)


def _read_only_run(world: World) -> tuple[int | None, str]:
    from helpers.cli_testing import read_only

    with read_only(world.warehouse) as view:
        return _cli(
            "run", "--rebuild", "--warehouse", str(view), "--source-dir", str(world.sources)
        )


def _full_disk_run(world: World) -> tuple[int | None, str]:
    import shutil

    from helpers.cli_testing import small_disk

    with small_disk(world.tmp / "disk", "64m") as disk:
        warehouse = disk / "warehouse"
        shutil.copytree(world.warehouse, warehouse, symlinks=True)
        with open(disk / "ballast", "wb") as ballast:  # 64 KB left: stops in the fetch
            left = shutil.disk_usage(disk).free - (64 << 10)
            while left > 0:
                ballast.write(b"\0" * min(left, 1 << 20))
                left -= 1 << 20
        code, output = _cli("run", "--rebuild", "--warehouse", str(warehouse),
                            "--source-dir", str(world.sources))  # fmt: skip
        from flows.warehouse.recovery import leftovers

        assert leftovers(warehouse) == [], leftovers(warehouse)
        assert (warehouse / "current").resolve().name == world.snapshot
        return code, output


def _killed_run_leftovers(world: World) -> tuple[int | None, str]:
    work = world.warehouse / "work"
    work.mkdir(exist_ok=True)
    for name in ("build-20260101T000000000000Z.duckdb", "build-20260101T000000000000Z.duckdb.wal"):
        (work / name).write_bytes(b"\0" * 4096)
    (world.warehouse / "snapshots" / ".tmp-20260101T000000000000Z").mkdir()
    (world.warehouse / ".current.tmp-4242").write_bytes(b"")
    return _run(world)


def _hostile_header(world: World) -> tuple[int | None, str]:
    daily = world.sources / MEDIAZONA
    header, rest = daily.read_bytes().split(b"\n", 1)
    daily.write_bytes(header.replace(b",", b";") + b":x: [red]boom[/red]\n" + rest)
    return _run(world)


def _symlink_out(world: World) -> tuple[int | None, str]:
    outside = world.tmp / "outside.csv"
    outside.write_text("SECRET-FIRST-LINE\n")
    daily = world.sources / MEDIAZONA
    daily.unlink()
    daily.symlink_to(outside)
    return _run(world)


FAULTS: list[Fault] = [
    Fault("validate ..", "`toll validate ..` (a path, not a snapshot id)",
          lambda w: _cli("validate", "..", "--warehouse", str(w.warehouse)),
          1, ("no published snapshot '..' in", "`toll snapshots` lists them all")),
    Fault("snapshot id typo", "`toll cite` with the current id's last digit dropped",
          lambda w: _cli("cite", w.snapshot[:-2] + "Z", "--warehouse", str(w.warehouse)),
          1, ("no published snapshot", "(latest: ")),
    Fault("unknown quarantine run", "`toll quarantine nightly-2099-01-01-000000`",
          lambda w: _cli("quarantine", "nightly-2099-01-01-000000", "--warehouse",
                         str(w.warehouse)),
          1, ("no run 'nightly-2099-01-01-000000'", "toll quarantine --runs")),
    Fault("warehouse is a file", "TOLL_WAREHOUSE names a regular file",
          lambda w: _cli("snapshots", TOLL_WAREHOUSE=str(w.sources / MEDIAZONA)),
          1, ("is a file, not a folder",)),
    Fault("missing warehouse", "`--warehouse` names a folder that does not exist",
          lambda w: _cli("report", "--warehouse", str(w.tmp / "nowhere")),
          1, ("no warehouse at", "run `toll run` first")),
    Fault("read-only warehouse", "`toll run --rebuild` on a read-only mount of the warehouse",
          _read_only_run, 1, ("cannot write to warehouse", "Read-only file system"),
          needs_root=True),
    Fault("full disk", "`toll run --rebuild` with 64 KB free on the warehouse's disk",
          _full_disk_run, 1, ("no space left on device writing", "MB free",
                              "nothing was published, snapshot", "free space in"),
          needs_root=True),
    Fault("leftovers after kill", "a killed run's scratch database + WAL, staging snapshot and "
          "`.current.tmp-*`; then a run that finds nothing new",
          _killed_run_leftovers, 0, ("removed", "left by an interrupted run", "stands")),
    Fault("markup in a bad line", "a header line holding `:x: [red]boom[/red]` (and `;`)",
          _hostile_header, 1, (":x: [red]boom[/red]",)),
    Fault("symlink leaving the source folder", "`mediazona/last_data.csv` a link to a file "
          "outside the source folder", _symlink_out, 1,
          ("a symbolic link to", "outside the source folder", "refused")),
    Fault("control character in an argument", "a warehouse path holding `\\x1e`",
          lambda w: _cli("snapshots", "--warehouse", str(w.tmp / "a\x1eb")),
          1, ("no warehouse at", "a\\x1eb")),
]  # fmt: skip

FAULTS_BY_NAME = {fault.name: fault for fault in FAULTS}
