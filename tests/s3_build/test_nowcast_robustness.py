from pathlib import Path

from flows.config import load_settings
from flows.errors import TollError
from flows.nightly import nightly
from flows.s1_sources.samples import write_sample_sources


def test_a_shrunken_newest_vintage_does_not_crash_the_models(tmp_path: Path) -> None:
    """A newest vintage with one zero day used to give ln(0) = -inf inside the nowcast."""
    sources = write_sample_sources(tmp_path / "sources")
    (sources / "mediazona/last_data.csv").write_text("date,change,total\n2022-02-24,0,0\n")
    settings = load_settings(
        source_dir=sources, warehouse=tmp_path / "warehouse", verify_checksums=False
    )
    try:
        result = nightly(settings=settings)
    except TollError as error:
        # refused by a gate is fine; what must not happen is a crash inside the SQL models
        assert "Could not cast" not in str(error)
        assert "mediazona" in str(error).lower() or "gate" in str(error).lower()
    else:
        assert result.snapshot
