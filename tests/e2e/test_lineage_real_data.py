"""`toll explain` and `toll diff` on ../shared/data: a run on an older Mediazona vintage, then one
on the newest, checked against sums taken directly from the two vintage files."""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

import pytest

from flows.config import load_settings
from flows.lineage.diff import diff_snapshots
from flows.lineage.explain import explain
from flows.nightly import nightly
from flows.s1_sources.catalogue import load_catalogue

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

WEEK = date(2024, 8, 5)
CUTOFF = date(2025, 6, 30)


def _week_sum(path: Path) -> int:
    with open(path, newline="") as handle:
        return sum(
            int(r["change"])
            for r in csv.DictReader(handle)
            if 0 <= (date.fromisoformat(r["date"]) - WEEK).days < 7
        )


@pytest.fixture(scope="module")
def two_vintages(real_data, tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("warehouse")
    older = nightly(settings=load_settings(source_dir=real_data, warehouse=warehouse, as_of=CUTOFF))
    newer = nightly(settings=load_settings(source_dir=real_data, warehouse=warehouse))
    files = [f for f in load_catalogue()["mediazona_daily"].files if f.as_of]
    old_file = max((f for f in files if f.as_of <= CUTOFF), key=lambda f: f.as_of)
    new_file = max(files, key=lambda f: f.as_of)
    return Path(older.snapshot), Path(newer.snapshot), old_file, new_file


def test_explain_week_of_5_august_2024(two_vintages, real_data):
    older, newer, old_file, new_file = two_vintages
    result = explain(
        newer.parent.parent, newer, "fct_weekly_losses", {"week_start": WEEK.isoformat()}
    )
    named = next(m for m in result["measures"] if m["measure"] == "named_deaths")
    assert named["value"] == _week_sum(real_data / new_file.local)
    [raw] = named["raw_files"]
    assert raw["file"] == new_file.local and raw["as_of"] == new_file.as_of.isoformat()
    assert raw["sha256"] == hashlib.sha256((real_data / new_file.local).read_bytes()).hexdigest()
    assert raw["rows_contributed"] == 7
    [before] = [h for h in named["earlier_snapshots"] if h["snapshot"] == older.name]
    assert before["value"] == _week_sum(real_data / old_file.local) != named["value"]
    assert before["as_of"] == old_file.as_of
    by_vintage = {m["as_of"]: m["value"] for m in named["by_vintage"]["changes"]}
    assert by_vintage[new_file.as_of] == named["value"]
    assert by_vintage.get(old_file.as_of, before["value"]) == before["value"]


def test_diff_older_vintage_to_newest(two_vintages):
    older, newer, _, new_file = two_vintages
    result = diff_snapshots(older, newer)
    tables = {t["table"]: t for t in result["tables"]}
    regional = tables["fct_regional_losses"]
    assert regional["added"] == regional["removed"] == regional["changed"] == 0
    weekly = tables["fct_weekly_losses"]
    assert weekly["columns_changed"]["named_deaths"]["causes"] == ["new vintage of mediazona_daily"]
    assert "claimed_personnel" not in weekly["columns_changed"]
    sources = {c.get("source") for c in result["causes"] if c["kind"] != "changed configuration"}
    assert sources == {"mediazona_daily"}
    assert any(
        new_file.as_of.isoformat() in item for c in result["causes"] for item in c.get("items", [])
    )
