"""Many tabular files are typed together with the same result as one by one."""

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


def test_tabular_files_typed_together_equal_one_by_one_and_errors_name_the_file(
    monkeypatch,
) -> None:
    monkeypatch.setattr(parallel, "BATCH_FILES", 3)  # batches of 3, 3 and 2 files
    files = [(f"2024-03-{d:02d}_cumsum.csv", _vintage(d)) for d in range(1, 8)]
    files.append(("2024-03-08_cumsum.csv", _vintage(8).replace(b",3,", b",x,", 1)))
    together = parse_many("mediazona_cumsum", "mediazona_daily", files)
    assert len(together) == len(files)
    for (file, content), mine in zip(files, together, strict=True):
        [alone] = parse_many("mediazona_cumsum", "mediazona_daily", [(file, content)])
        assert mine.rows.equals(alone.rows) and mine.rejected.equals(alone.rejected)
        assert mine.rows.height + mine.rejected.height == 28
    assert together[-1].rejected.height == 1  # the bad row is quarantined, not lost
    broken = [*files, ("2024-03-09_cumsum.csv", b"date;change;total\n2024-02-01;1;1\n")]
    with pytest.raises(SourceFormatError, match="2024-03-09_cumsum.csv"):
        parse_many("mediazona_cumsum", "mediazona_daily", broken)
