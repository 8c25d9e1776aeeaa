"""Column docs: one `<model>.columns.toml` per published model, read strictly."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.errors import ConfigError
from flows.s3_build.column_docs import MARTS_DIR, load_table_doc, load_table_docs, with_descriptions
from flows.s3_build.models import discover


def test_every_published_model_has_column_docs_and_every_docs_file_a_model() -> None:
    published = {m.name for m in discover().values() if m.published}
    docs = load_table_docs()
    assert set(docs) == published
    for doc in docs.values():
        assert doc.path.parent == MARTS_DIR
        assert all(c.description and c.unit for c in doc.columns.values()), doc.name


def test_the_wording_the_readme_uses() -> None:
    docs = load_table_docs()
    claimed = docs["fct_daily_losses"].columns["claimed_personnel"].description
    assert "General Staff" in claimed and "killed and wounded" in claimed
    assert "DeepState" in docs["fct_weekly_losses"].columns["occupied_km2"].description
    assert "Economist" in docs["fct_weekly_losses"].columns["occupied_km2_alt"].description
    assert docs["fct_weekly_losses"].columns["occupied_km2"].unit == "km²"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("table = [", "cannot read"),
        ('[columns.a]\nunit = "x"\ndescription = "y"\n', "table: expected a non-empty string"),
        ('table = "t"\n', r"expected a \[columns.<name>\] table"),
        ('table = "t"\n[columns.a]\nunit = "x"\n', "column 'a': expected exactly"),
        ('table = "t"\n[columns.a]\nunit = ""\ndescription = "d"\n', "column 'a' unit"),
        ('table = "t"\ntabel = "x"\n[columns.a]\nunit = "u"\ndescription = "d"\n', "unknown key"),
    ],
)
def test_a_malformed_docs_file_is_a_clear_error_naming_it(tmp_path, text, expected) -> None:
    path = tmp_path / "fct_x.columns.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_table_doc(path)
    assert "fct_x.columns.toml" in str(info.value)


def test_descriptions_travel_in_the_parquet_schema_and_keep_bytes_stable(tmp_path) -> None:
    path = tmp_path / "fct_x.columns.toml"
    path.write_text(
        'table = "One row per day."\n'
        '[columns.day]\nunit = "date"\ndescription = "Calendar day."\n'
        '[columns.km2]\nunit = "km²"\ndescription = "Occupied area."\n'
    )
    doc = load_table_doc(path)
    table = pa.table({"day": pa.array([1, 2]), "km2": pa.array([1.5, None]), "x": [0, 0]})
    assert doc.undocumented(table.column_names) == ["x"]
    assert doc.stale(["day"]) == ["km2"]
    described = with_descriptions(table, doc)
    assert described.equals(table)  # same data
    digests = set()
    for run in range(2):
        pq.write_table(described, tmp_path / f"{run}.parquet", compression="zstd")
        digests.add(hashlib.sha256((tmp_path / f"{run}.parquet").read_bytes()).hexdigest())
    assert len(digests) == 1
    schema = pq.read_schema(tmp_path / "0.parquet")
    assert schema.field("km2").metadata[b"description"] == "Occupied area. Unit: km².".encode()
    assert schema.field("km2").metadata[b"unit"] == "km²".encode()
    assert schema.field("x").metadata is None
    assert schema.metadata[b"description"] == b"One row per day."
