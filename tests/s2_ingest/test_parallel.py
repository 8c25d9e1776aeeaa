"""Many tabular files are parsed in spawned workers with the same result as in one process."""

import pytest

from flows.errors import SourceFormatError
from flows.s2_ingest import parallel
from flows.s2_ingest.parallel import parse_many


def _vintage(day: int) -> bytes:
    lines = ["date,change,total"]
    total = 0
    for n in range(1, 29):
        total += n * day % 7
        lines.append(f"2024-02-{n:02d},{n * day % 7},{total}")
    return ("\n".join(lines) + "\n").encode()


def test_tabular_pool_equals_in_process_and_errors_name_the_file(monkeypatch, caplog) -> None:
    monkeypatch.setattr(parallel, "MIN_TABULAR_FILES_FOR_POOL", 4)
    monkeypatch.setattr(parallel, "TABULAR_CHUNK", 2)
    files = [(f"2024-03-{d:02d}_cumsum.csv", _vintage(d)) for d in range(1, 8)]
    files.append(("2024-03-08_cumsum.csv", _vintage(8).replace(b",3,", b",x,", 1)))
    pooled = parse_many("mediazona_cumsum", "mediazona_daily", files, max_workers=2)
    alone = parse_many("mediazona_cumsum", "mediazona_daily", files, max_workers=1)
    assert "one process" not in caplog.text  # the workers did start
    assert len(pooled) == len(files)
    for mine, theirs in zip(pooled, alone, strict=True):
        assert mine.rows.equals(theirs.rows) and mine.rejected.equals(theirs.rejected)
    assert pooled[-1].rejected.height == 1  # the bad row is quarantined, not lost
    broken = [*files, ("2024-03-09_cumsum.csv", b"date;change;total\n2024-02-01;1;1\n")]
    with pytest.raises(SourceFormatError, match="2024-03-09_cumsum.csv"):
        parse_many("mediazona_cumsum", "mediazona_daily", broken, max_workers=2)
