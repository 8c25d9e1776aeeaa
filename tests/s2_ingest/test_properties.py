"""Property-based tests (hypothesis): parsers never lose or invent rows and fail only with
SourceFormatError; weekly and regional aggregation keeps every death, in the right week."""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.config import load_settings
from flows.errors import SourceFormatError
from flows.s1_sources.catalogue import load_catalogue
from flows.s1_sources.samples import REGIONS, UNITS, sample_files, write_sample_sources
from flows.s2_ingest import parsing
from flows.s2_ingest.collect import ingest_source
from flows.s2_ingest.formats import parser_for
from flows.s2_ingest.parsers import bessudnov, mediazona
from flows.s2_ingest.parsing import check_rejected_share
from flows.s3_build.runner import build_models
from flows.warehouse.database import connect

FIRST = date(2022, 2, 24)
CATALOGUE = load_catalogue()
SAMPLE = sample_files()
# Derandomized: CI runs the same examples every time (a red main is never luck); raise
# max_examples locally to search further.
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    # "\r\n" as in RFC 4180, so that a cell holding a lone "\r" is quoted too
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode()


def _cumsum(changes: list[int], start: date = FIRST) -> bytes:
    total, rows = 0, []
    for i, change in enumerate(changes):
        total += change
        rows.append([(start + timedelta(i)).isoformat(), change, total])
    return _csv(["date", "change", "total"], rows)


# --- parsers ------------------------------------------------------------------------------

counts = st.lists(st.integers(0, 5_000), min_size=1, max_size=120)


@FAST
@given(changes=counts)
def test_cumsum_keeps_every_day_and_flags_only_trailing_zeros(changes: list[int]) -> None:
    parsed = mediazona.parse_cumsum("mediazona_daily", "x.csv", _cumsum(changes))
    rows = parsed.rows
    assert parsed.rejected.height == 0
    assert rows["change"].to_list() == changes
    assert rows["source_row"].to_list() == list(range(1, len(changes) + 1))
    trailing = len(changes) - len("".join("x" if c else "0" for c in changes).rstrip("0"))
    assert rows["padded"].to_list() == [False] * (len(changes) - trailing) + [True] * trailing


cell = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00")
    | st.sampled_from(['"', ",", "\n", "\r", ";", " "]),
    max_size=60,
)


@FAST
@given(cells=st.lists(cell, min_size=1, max_size=20))
def test_any_cell_text_survives_csv_quoting(cells: list[str]) -> None:
    rows = [[i, "", "2023-01-01", "volunteers", "", "Tuva", text] for i, text in enumerate(cells)]
    header = ["id", "birthYear", "deathConfirmedDate", "unitType", "age", "region", "source"]
    parsed = bessudnov.parse_records("named_records", "r.csv", _csv(header, rows))
    assert parsed.rejected.height == 0
    # leading/trailing whitespace is trimmed; a blank cell is a missing value
    assert parsed.rows["source"].to_list() == [t.strip() or None for t in cells]


value = st.one_of(
    st.integers(0, 10_000).map(str),
    st.sampled_from(["", "n/a", "1.5", "1e3", "one", "--", "12 000", "0x10", "\u0661"]),
)


@FAST
@given(values=st.lists(value, min_size=1, max_size=60))
def test_every_row_is_either_kept_or_rejected_with_its_reason(values: list[str]) -> None:
    rows = [[(FIRST + timedelta(i)).isoformat(), v, 0] for i, v in enumerate(values)]
    parsed = mediazona.parse_cumsum(
        "mediazona_daily", "x.csv", _csv(["date", "change", "total"], rows)
    )
    good = [i + 1 for i, v in enumerate(values) if v.isascii() and v.isdigit()]
    assert sorted(parsed.rows["source_row"].to_list()) == good
    bad = parsed.rejected.sort("source_row")
    assert bad["source_row"].to_list() == [i for i in range(1, len(values) + 1) if i not in good]
    for row, reason in zip(bad["source_row"], bad["reason"], strict=True):
        assert reason.startswith("change: ")
        assert values[row - 1] == "" or f"'{values[row - 1]}'" in reason


@st.composite
def damaged(draw) -> tuple[str, str, bytes]:
    """A sample file of any source, cut short, with bytes flipped, dropped or inserted."""
    source = draw(st.sampled_from(sorted(CATALOGUE)))
    local = draw(st.sampled_from([f.local for f in CATALOGUE[source].files]))
    content = bytearray(SAMPLE[local])
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, max(0, len(content) - 1)))
        kind = draw(st.sampled_from(["cut", "flip", "drop", "insert"]))
        if kind == "cut":
            del content[where:]
        elif kind == "flip" and content:
            content[where] = draw(st.integers(0, 255))
        elif kind == "drop":
            del content[where : where + draw(st.integers(1, 50))]
        else:
            content[where:where] = draw(st.sampled_from([b'"', b",", b"\n", b"\xff", b"{", b"]"]))
    return source, local, bytes(content)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(case=damaged())
def test_damaged_files_give_rows_or_a_source_format_error_never_a_crash(case) -> None:
    source, local, content = case
    try:
        parsed = parser_for(CATALOGUE[source].format)(source, local, content)
        check_rejected_share(source, local, parsed)
    except SourceFormatError as exc:
        assert f"source '{source}'" in str(exc) and local in str(exc)
        return
    assert parsed.rejected["reason"].null_count() == 0
    rows = set(parsed.rows["source_row"].to_list())
    assert rows.isdisjoint(parsed.rejected["source_row"].to_list())


# --- weekly and regional aggregation ------------------------------------------------------


# One Mediazona vintage (the generated one): the invariants are about aggregating a vintage,
# and older sample vintages longer than a generated one would make it a revision downwards.
ONE_VINTAGE = {
    **CATALOGUE,
    "mediazona_daily": replace(
        CATALOGUE["mediazona_daily"],
        files=tuple(f for f in CATALOGUE["mediazona_daily"].files if f.as_of is None),
    ),
}


@pytest.fixture(scope="module")
def base_warehouse(tmp_path_factory):
    """Every sample source fetched once into a warehouse that the examples copy."""
    root = tmp_path_factory.mktemp("props")
    sources = write_sample_sources(root / "sources")
    warehouse = root / "warehouse"
    config = load_settings(source_dir=sources, warehouse=warehouse, verify_checksums=False)
    for source in ONE_VINTAGE.values():
        ingest_source(config, source, datetime(2026, 1, 1, tzinfo=UTC))
    return sources, warehouse


records = st.lists(
    st.tuples(
        st.sampled_from([r[0] for r in REGIONS] + ["", "Atlantis"]),
        st.sampled_from(UNITS + [""]),
        st.integers(0, 500),  # days after 2022-02-24
    ),
    min_size=1,
    max_size=80,
)


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(changes=counts, start=st.integers(0, 20), people=records)
def test_weekly_and_regional_sums_are_preserved(base_warehouse, tmp_path_factory, changes,
                                                start, people) -> None:  # fmt: skip
    sources, base = base_warehouse
    root = tmp_path_factory.mktemp("example")
    warehouse = root / "warehouse"
    shutil.copytree(base, warehouse)
    changed = root / "sources"
    shutil.copytree(sources, changed)
    (changed / "mediazona/last_data.csv").write_bytes(_cumsum(changes, FIRST + timedelta(start)))
    header = ["id", "birthYear", "deathConfirmedDate", "unitType", "age", "region", "source"]
    (changed / "bessudnov/dfFatalitiesAnonymised.csv").write_bytes(
        _csv(
            header,
            [
                [i, "", (FIRST + timedelta(d)).isoformat(), u, "", r, ""]
                for i, (r, u, d) in enumerate(people, start=1)
            ],
        )  # fmt: skip
    )
    config = load_settings(source_dir=changed, warehouse=warehouse, verify_checksums=False)
    for name in ("mediazona_daily", "named_records"):
        ingest_source(config, ONE_VINTAGE[name], datetime(2026, 1, 2, tzinfo=UTC))
    con = connect()
    build_models(con, warehouse, ONE_VINTAGE, variables=config.result_affecting())
    _check_weekly(con, changes, FIRST + timedelta(start))
    _check_regional(con, people)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def _check_weekly(con: duckdb.DuckDBPyConnection, changes: list[int], start: date) -> None:
    daily = dict(con.execute("select date, named_deaths from fct_daily_losses").fetchall())
    for i, change in enumerate(changes):
        assert daily[start + timedelta(i)] == change
    assert sum(v for v in daily.values() if v is not None) == sum(changes)
    weeks = con.execute(
        "select week_start, iso_year, iso_week, named_deaths, named_cumulative "
        "from fct_weekly_losses order by week_start"
    ).fetchall()
    assert weeks[0][0] == date(2022, 2, 21)  # Monday of 2022-W08, the week of 24 February
    expected_week: dict[date, int] = {}
    for i, change in enumerate(changes):
        day = start + timedelta(i)
        monday = day - timedelta(day.weekday())
        expected_week[monday] = expected_week.get(monday, 0) + change
    running = 0
    for previous, current in zip(weeks, weeks[1:], strict=False):
        assert current[0] - previous[0] == timedelta(7)
    for week_start, iso_year, iso_week, named, cumulative in weeks:
        assert week_start.weekday() == 0
        assert (iso_year, iso_week) == week_start.isocalendar()[:2]
        assert named == expected_week.get(week_start, None if named is None else 0)
        assert named is None or named >= 0
        if named is not None:
            running += named
            assert cumulative == running
    assert running == sum(changes)


def _check_regional(con: duckdb.DuckDBPyConnection, people: list) -> None:
    assert _one(con, "select sum(named_deaths) from fct_regional_losses") == len(people)
    assert _one(con, "select min(named_deaths) from fct_regional_losses") >= 1
    unknown = sum(1 for region, _, _ in people if region == "")
    unmapped = sum(1 for region, _, _ in people if region == "Atlantis")
    by_code = dict(
        con.execute(
            "select region_code, sum(named_deaths) from fct_regional_losses group by all"
        ).fetchall()
    )
    assert by_code.get("UNKNOWN", 0) == unknown
    assert by_code.get("UNMAPPED", 0) == unmapped
    shares = con.execute(
        "select year, sum(share_of_year) from fct_regional_losses group by year"
    ).fetchall()
    for _, total in shares:
        assert total == pytest.approx(1.0)


# Lines of a vintage: mostly well-formed records, sometimes a short, long, blank, quoted or
# CR-ended one, so that both the one-read path and its file-by-file fallback are exercised.
vintage_lines = st.lists(
    st.one_of(
        st.builds(
            lambda d, c, t: f"2024-01-{d:02d},{c},{t}",
            st.integers(1, 28),
            st.one_of(st.integers(0, 99).map(str), st.sampled_from(["", "x", " 3"])),
            st.integers(0, 999),
        ),
        st.sampled_from(["2024-01-05,1", "2024-01-06,1,2,3", "", '"2024-01-07",1,1', "a,b,c\r"]),
    ),
    min_size=0,
    max_size=8,
)


@FAST
@given(st.lists(vintage_lines, min_size=1, max_size=5), st.booleans())
def test_vintages_read_together_equal_file_by_file(files: list[list[str]], newline: bool) -> None:
    """The one-read path gives exactly the rows of reading each file alone, or declines."""
    contents = [
        ("date,change,total\n" + "\n".join(lines) + ("\n" if newline else "")).encode()
        for lines in files
    ]
    named = [(f"{i}_cumsum.csv", c) for i, c in enumerate(contents)]
    together = parsing.read_csv_strings_together(
        "mediazona_daily", named, ["date", "change", "total"]
    )
    plain = all(
        lines and all(line and '"' not in line and "\r" not in line for line in lines)
        for lines in files
    )
    if not plain:
        assert together is None
        return
    alone = pl.concat(
        parsing.read_csv_strings("mediazona_daily", f, c, ["date", "change", "total"]).with_columns(
            pl.lit(i, pl.Int32).alias(parsing.FILE)
        )
        for i, (f, c) in enumerate(named)
    )
    if together is None:  # declined only for a record of the wrong width
        assert alone[parsing.SHAPE].is_not_null().any()
        return
    assert together.equals(alone)
