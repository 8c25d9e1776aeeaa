"""Parsers in flows/ingest: small inline byte fixtures, real values asserted."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from flows.errors import SourceFormatError
from flows.s2_ingest import formats, parsing
from flows.s2_ingest.parsers import bessudnov, economist, general_staff, mediazona, regions

# --- mediazona --------------------------------------------------------------------------

CUMSUM = b"date,change,total\n2024-01-01,3,3\n2024-01-02,2,5\n2024-01-03,0,5\n2024-01-04,0,5\n"


def test_cumsum_types_columns_and_flags_trailing_padding() -> None:
    parsed = mediazona.parse_cumsum("mediazona", "cumsum.csv", CUMSUM)
    rows = parsed.rows
    assert rows.schema["date"] == pl.Date
    assert rows.schema["change"] == pl.Int64
    assert rows.schema["total"] == pl.Int64
    assert rows.schema["padded"] == pl.Boolean
    assert rows["date"].to_list() == [dt.date(2024, 1, d) for d in (1, 2, 3, 4)]
    assert rows["change"].to_list() == [3, 2, 0, 0]
    assert rows["total"].to_list() == [3, 5, 5, 5]
    assert rows["padded"].to_list() == [False, False, True, True]
    assert rows["source_row"].to_list() == [1, 2, 3, 4]
    assert parsed.rejected.height == 0


def test_cumsum_zero_change_before_last_real_day_is_not_padding() -> None:
    content = b"date,change,total\n2024-01-01,1,1\n2024-01-02,0,1\n2024-01-03,4,5\n"
    rows = mediazona.parse_cumsum("mediazona", "cumsum.csv", content).rows
    assert rows["padded"].to_list() == [False, False, False]


def test_cumsum_sorts_by_date() -> None:
    content = b"date,change,total\n2024-01-02,2,3\n2024-01-01,1,1\n"
    rows = mediazona.parse_cumsum("mediazona", "cumsum.csv", content).rows
    assert rows["date"].to_list() == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]
    assert rows["source_row"].to_list() == [2, 1]


def test_cumsum_rejects_non_integer_change_naming_the_column() -> None:
    content = b"date,change,total\n2024-01-01,3,3\n2024-01-02,two,5\n2024-01-03,1,6\n"
    parsed = mediazona.parse_cumsum("mediazona", "cumsum.csv", content)
    assert parsed.rows["source_row"].to_list() == [1, 3]
    assert parsed.rows["change"].to_list() == [3, 1]
    assert parsed.rejected.height == 1
    rejected = parsed.rejected.row(0, named=True)
    assert rejected["source_row"] == 2
    assert rejected["reason"] == "change: expected int, got 'two'"
    assert json.loads(rejected["raw_row"]) == {"date": "2024-01-02", "change": "two", "total": "5"}


def test_cumsum_rejects_missing_required_value() -> None:
    content = b"date,change,total\n2024-01-01,3,3\n2024-01-02,,5\n"
    parsed = mediazona.parse_cumsum("mediazona", "cumsum.csv", content)
    assert parsed.rows.height == 1
    assert parsed.rejected["reason"].to_list() == ["change: required value is missing"]


@pytest.mark.parametrize("content", [b"", b"  \n\n"])
def test_cumsum_empty_file_raises_naming_source_and_file(content: bytes) -> None:
    with pytest.raises(SourceFormatError) as info:
        mediazona.parse_cumsum("mediazona", "empty_cumsum.csv", content)
    message = str(info.value)
    assert "source 'mediazona'" in message
    assert "empty_cumsum.csv" in message
    assert "empty" in message
    assert info.value.source == "mediazona"
    assert info.value.file == "empty_cumsum.csv"


def test_cumsum_missing_column_raises_naming_source_file_and_column() -> None:
    content = b"date,change\n2024-01-01,3\n"
    with pytest.raises(SourceFormatError) as info:
        mediazona.parse_cumsum("mediazona", "short_cumsum.csv", content)
    message = str(info.value)
    assert "source 'mediazona'" in message
    assert "short_cumsum.csv" in message
    assert "['total']" in message


def test_cumsum_header_only_raises() -> None:
    with pytest.raises(SourceFormatError, match="no data rows"):
        mediazona.parse_cumsum("mediazona", "cumsum.csv", b"date,change,total\n")


# --- encodings / economist --------------------------------------------------------------

WEEKLY_HEADER = ",".join(economist.WEEKLY_SCHEMA)


def weekly_line(year: int, week: int, bmz_now: int) -> str:
    rest = ["10", "11", "12", "13", "1.5", "2.5", "0.5", "3", "4", "2", "5.25", "6", "4.5"]
    return ",".join([str(year), str(week), str(bmz_now), *rest])


def test_weekly_with_utf8_bom_header() -> None:
    text = WEEKLY_HEADER + "\n" + weekly_line(2026, 1, 100) + "\n" + weekly_line(2026, 2, 120)
    content = b"\xef\xbb\xbf" + text.encode("utf-8") + b"\n"
    parsed = economist.parse_weekly_2026("economist", "meduza_2026_weekly.csv", content)
    rows = parsed.rows
    assert rows.columns[1:] == list(economist.WEEKLY_SCHEMA)  # "Year" without the BOM
    assert rows["Year"].to_list() == [2026, 2026]
    assert rows["Week"].to_list() == [1, 2]
    assert rows["BmzNow"].to_list() == [100, 120]
    assert rows.schema["ED"] == pl.Float64
    assert rows["EDPredictionLow"].to_list() == [2.0, 2.0]
    assert rows["EDAssembled"].to_list() == [5.25, 5.25]
    assert parsed.rejected.height == 0


def test_cp1251_bytes_raise_mentioning_utf8() -> None:
    content = "date,change,total\n2024-01-01,3,3\nДата,1,1\n".encode("cp1251")
    with pytest.raises(SourceFormatError) as info:
        mediazona.parse_cumsum("mediazona", "cp1251.csv", content)
    message = str(info.value)
    assert "UTF-8" in message
    assert "cp1251.csv" in message
    assert "line 3" in message


def test_weekly_week_54_rejected() -> None:
    text = "\n".join([WEEKLY_HEADER, weekly_line(2026, 53, 50), weekly_line(2026, 54, 60)]) + "\n"
    parsed = economist.parse_weekly_2026("economist", "weekly.csv", text.encode())
    assert parsed.rows["Week"].to_list() == [53]
    assert parsed.rows["BmzNow"].to_list() == [50]
    assert parsed.rejected.height == 1
    rejected = parsed.rejected.row(0, named=True)
    assert rejected["source_row"] == 2
    assert rejected["reason"] == "Week: expected 1..53, got 54"
    assert rejected["raw_row"] == "2026-W54"


def test_weekly_week_54_alongside_type_rejection() -> None:
    bad_year = weekly_line(2026, 3, 70).replace("2026", "20x6", 1)
    text = "\n".join([WEEKLY_HEADER, bad_year, weekly_line(2026, 54, 60)]) + "\n"
    parsed = economist.parse_weekly_2026("economist", "weekly.csv", text.encode())
    assert parsed.rows.height == 0
    assert parsed.rejected["source_row"].to_list() == [1, 2]
    assert parsed.rejected["reason"].to_list() == [
        "Year: expected int, got '20x6'",
        "Week: expected 1..53, got 54",
    ]


def test_weekly_missing_column_raises() -> None:
    header = ",".join(c for c in economist.WEEKLY_SCHEMA if c != "EDLow")
    content = (header + "\n2026,1,100\n").encode()
    with pytest.raises(SourceFormatError, match=r"\['EDLow'\]"):
        economist.parse_weekly_2026("economist", "weekly.csv", content)


# --- bessudnov --------------------------------------------------------------------------

RECORD_HEADER = b"id,birthYear,deathConfirmedDate,unitType,age,region,source\n"


def test_records_quoted_source_with_newlines_is_one_record() -> None:
    content = (
        RECORD_HEADER
        + b'1,1985.0,2022-03-01,army,36.0,Moscow,"https://a.example/1\nhttps://b.example/2\n'
        + b'https://c.example/3"\n'
        + b"2,1990,2022-04-02,navy,,Omsk,https://d.example/4\n"
    )
    parsed = bessudnov.parse_records("bessudnov", "fatalities.csv", content)
    rows = parsed.rows
    assert rows.height == 2
    assert rows["id"].to_list() == [1, 2]
    assert rows["source_row"].to_list() == [1, 2]
    assert rows["source"][0] == "https://a.example/1\nhttps://b.example/2\nhttps://c.example/3"
    assert rows["source"][1] == "https://d.example/4"
    assert rows.schema["birthYear"] == pl.Int64
    assert rows["birthYear"].to_list() == [1985, 1990]
    assert rows["age"].to_list() == [36, None]
    assert rows["deathConfirmedDate"].to_list() == [dt.date(2022, 3, 1), dt.date(2022, 4, 2)]
    assert parsed.rejected.height == 0


def test_records_fractional_birth_year_rejected() -> None:
    content = (
        RECORD_HEADER
        + b"1,1985.5,2022-03-01,army,36,Moscow,x\n"
        + b"2,1985.0,2022-03-01,army,36,Moscow,y\n"
    )
    parsed = bessudnov.parse_records("bessudnov", "fatalities.csv", content)
    assert parsed.rows["id"].to_list() == [2]
    assert parsed.rows["birthYear"].to_list() == [1985]
    assert parsed.rejected["source_row"].to_list() == [1]
    assert parsed.rejected["reason"].to_list() == ["birthYear: expected intlike, got '1985.5'"]


def test_records_unterminated_quote_raises() -> None:
    content = RECORD_HEADER + b'1,1985,2022-03-01,army,36,Moscow,"https://a\n'
    with pytest.raises(SourceFormatError, match="fatalities.csv"):
        bessudnov.parse_records("bessudnov", "fatalities.csv", content)


# --- general staff ----------------------------------------------------------------------


def test_personnel_json_array_with_optional_pow() -> None:
    records = [
        {"date": "2022-02-25", "day": 2, "personnel": 2800, "personnel*": "about", "POW": 0},
        {"date": "2022-02-26", "day": 3, "personnel": 3500, "personnel*": "about"},
        {"date": "2022-02-27", "day": 4, "personnel": 4300, "personnel*": "more", "POW": 200},
    ]
    content = json.dumps(records).encode()
    parsed = general_staff.parse_personnel("general_staff", "personnel.json", content)
    rows = parsed.rows
    assert rows.columns == ["source_row", "date", "day", "personnel", "personnel*", "POW"]
    assert rows["date"].to_list() == [dt.date(2022, 2, d) for d in (25, 26, 27)]
    assert rows["day"].to_list() == [2, 3, 4]
    assert rows["personnel"].to_list() == [2800, 3500, 4300]
    assert rows["personnel*"].to_list() == ["about", "about", "more"]
    assert rows["POW"].to_list() == [0, None, 200]
    assert parsed.rejected.height == 0


def test_personnel_invalid_json_raises_naming_line() -> None:
    content = b'[\n  {"date": "2022-02-25", "personnel": 2800},\n  {"date": oops}\n]\n'
    with pytest.raises(SourceFormatError) as info:
        general_staff.parse_personnel("general_staff", "personnel.json", content)
    message = str(info.value)
    assert "line 3" in message
    assert "personnel.json" in message
    assert "valid JSON" in message


def test_personnel_empty_array_raises() -> None:
    with pytest.raises(SourceFormatError, match="non-empty JSON array"):
        general_staff.parse_personnel("general_staff", "personnel.json", b"[]")


def test_personnel_missing_date_rejected() -> None:
    records = [
        {"date": "2022-02-25", "day": 2, "personnel": 2800, "personnel*": "", "POW": 0},
        {"day": 3, "personnel": 3500, "personnel*": "", "POW": 1},
    ]
    parsed = general_staff.parse_personnel("gs", "p.json", json.dumps(records).encode())
    assert parsed.rows["day"].to_list() == [2]
    assert parsed.rejected["reason"].to_list() == ["date: required value is missing"]


# --- regions ----------------------------------------------------------------------------


def test_regions_keep_leading_zeros_as_text() -> None:
    content = (
        "name,type,name_with_type,federal_district,kladr_id,okato,iso_code,geoname_name\n"
        "Адыгея,Респ,Респ Адыгея,Южный,0100000000000,79000000000,RU-AD,Adygeya\n"
        "Москва,г,г Москва,Центральный,7700000000000,45000000000,RU-MOW,Moscow\n"
    ).encode()
    parsed = regions.parse_regions("regions", "region.csv", content)
    rows = parsed.rows
    assert rows.schema["kladr_id"] == pl.String
    assert rows["kladr_id"].to_list() == ["0100000000000", "7700000000000"]
    assert rows["okato"].to_list() == ["79000000000", "45000000000"]
    assert rows["name"].to_list() == ["Адыгея", "Москва"]
    assert rows["iso_code"].to_list() == ["RU-AD", "RU-MOW"]
    assert parsed.rejected.height == 0


# --- formats ----------------------------------------------------------------------------


def test_parser_for_known_name() -> None:
    assert formats.parser_for("mediazona_cumsum") is mediazona.parse_cumsum
    assert formats.parser_for("hflabs_regions") is regions.parse_regions


def test_parser_for_unknown_name_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown source format 'nope'"):
        formats.parser_for("nope")


def test_csv_reader_numbers_records_and_notes_the_ones_that_do_not_fit() -> None:
    # a blank line (not a record), a quoted newline, a short and a long record: DuckDB's path
    content = b'a,b\n1,x\n\n2,"y\nz"\n3\n4,,x\n5,w\n'
    frame = parsing.read_csv_strings("s", "f.csv", content, ["a", "b"])
    assert frame[parsing.ROW].to_list() == [1, 2, 3, 4, 5]
    assert frame["a"].to_list() == ["1", "2", "3", "4", "5"]
    assert frame["b"].to_list() == ["x", "y\nz", None, None, "w"]
    assert frame[parsing.SHAPE].to_list() == [
        None,
        None,
        "record has 1 field(s), expected 2 like the header (a line cut short?)",
        "record has 3 field(s), expected 2 like the header",
        None,
    ]
    # DuckDB reads empty fields after the last column (a trailing delimiter) as no fields:
    # nothing is lost, so such a record fits
    lenient = parsing.read_csv_strings("s", "f.csv", b"a,b\n1,x\n4,,\n5,w,\n", ["a", "b"])
    assert lenient["b"].to_list() == ["x", None, "w"]
    assert lenient[parsing.SHAPE].null_count() == 3


WELL_FORMED = ["x\ny", None, None, "q"]


@pytest.mark.parametrize(
    ("content", "second"),
    [
        (b'a,b,c\n1,"x\ny",3\n2,,\n3,"",\n4,q,r\n', WELL_FORMED),  # empty last cells
        (b'\xef\xbb\xbfa,b,c\r\n1,"x\ny",3\r\n2,,\r\n3,"",\r\n4,q,r\r\n', WELL_FORMED),  # BOM
        (b'a,b,c\n1,"x\ny",3\n2,,\n3,"",\n4,q,r', WELL_FORMED),  # no newline at the end
        (b'a,"b,x",c\n1,"x\ny",3\n2,,\n3,",",\n4,q,r\n', ["x\ny", None, ",", "q"]),  # quoted ","
    ],
)
def test_csv_reader_paths_agree_on_well_formed_files(content, second, monkeypatch) -> None:
    columns = parsing._header("s", "f.csv", content, ",")
    natively = parsing.read_csv_strings("s", "f.csv", content, columns)
    assert natively[parsing.ROW].to_list() == [1, 2, 3, 4]
    assert natively[columns[1]].to_list() == second
    assert natively["c"].to_list() == ["3", None, None, "r"]
    assert natively[parsing.SHAPE].null_count() == 4
    monkeypatch.setattr(parsing, "_read_natively", lambda content, delimiter: None)
    assert parsing.read_csv_strings("s", "f.csv", content, columns).equals(natively)


def test_csv_reader_names_the_line_of_an_unterminated_quote() -> None:
    content = b'a,b\n1,x\n2,y\n3,"z\n4,w\n'
    with pytest.raises(SourceFormatError, match=r"line 4.*well-formed CSV"):
        parsing.read_csv_strings("s", "f.csv", content, ["a", "b"])


def test_cumsum_files_parsed_together_equal_one_by_one() -> None:
    files = [
        ("a.csv", CUMSUM),
        ("b.csv", b"date,change,total\n2024-01-01,1,1\n2024-01-02,x,1\n2024-01-03,4,5\n"),
        ("c.csv", b"date,change,total\n2024-01-02,0,0\n2024-01-01,0,0\n"),
    ]
    together = mediazona.parse_cumsum_files("mediazona", files)
    for (file, content), parsed in zip(files, together, strict=True):
        alone = mediazona.parse_cumsum("mediazona", file, content)
        assert parsed.rows.equals(alone.rows) and parsed.rejected.equals(alone.rejected)
    assert together[1].rejected["source_row"].to_list() == [2]
    assert together[2].rows["padded"].to_list() == [True, True]


def test_plain_vintages_are_read_in_one_read_and_odd_ones_file_by_file() -> None:
    plain = [("a.csv", CUMSUM), ("b.csv", b"date,change,total\n2024-01-01,x,1\n2024-01-02,,1")]
    together = parsing.read_csv_strings_together("mediazona", plain, ["date", "change", "total"])
    assert together is not None
    assert together[parsing.FILE].to_list() == [0, 0, 0, 0, 1, 1]
    assert together[parsing.ROW].to_list() == [1, 2, 3, 4, 1, 2]
    assert together["change"].to_list() == ["3", "2", "0", "0", "x", None]
    for odd in (
        b"date,change,total\r\n2024-01-01,1,1\r\n",  # CR
        b'date,change,total\n"2024-01-01",1,1\n',  # quotes
        b"date,total,change\n2024-01-01,1,1\n",  # another header
        b"date,change,total\n",  # no data
        b"date,change,total\n2024-01-01,1,1\n\n2024-01-02,1,2\n",  # a blank line
        b"date,change,total\n2024-01-01,1,1\n\n",  # a blank line at the end
        b"date,change,total\n2024-01-01,1,1,\n",  # a record with one field too many
        b"date,change,total\n2024-01-01,1\n",  # a short record
        b"date,change,total\n2024-01-01,\xd0,1\n",  # not UTF-8
    ):
        files = [*plain, ("odd.csv", odd)]
        assert parsing.read_csv_strings_together("m", files, ["date", "change", "total"]) is None
