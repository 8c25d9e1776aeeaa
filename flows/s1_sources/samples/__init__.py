"""Generated sample sources in the real formats, for tests and `toll run --demo`.

Seeded and clearly labelled: these numbers are invented and describe nothing real. One module per
upstream format (as in `flows/s2_ingest/parsers/`), one generator per declared source.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from flows.errors import ConfigError
from flows.s1_sources.catalogue import Source, load_catalogue
from flows.s1_sources.samples import (
    bessudnov,
    deepstate,
    economist,
    estimates,
    general_staff,
    mediazona,
    regions,
)
from flows.s1_sources.samples.common import FIRST, LABEL, REGIONS, UNITS, Draw
from flows.s1_sources.samples.deepstate import sample_map

Generator = Callable[[Source, Draw], dict[str, bytes]]

# One random stream runs through the generators in this order (the ones without randomness
# draw nothing), so every seed gives the same files byte for byte as when this was one
# function: tests and fixtures count on those figures. A new generator goes at the end.
GENERATORS: dict[str, Generator] = {
    "mediazona_daily": mediazona.mediazona_daily,
    "weekly_named": economist.weekly_named,
    "named_records": bessudnov.named_records,
    "census_men": bessudnov.census_men,
    "region_names": bessudnov.region_names,
    "regions": regions.regions,
    "official_claims": general_staff.official_claims,
    "territory_area": economist.territory_area,
    "published_estimates": estimates.published_estimates,
    "territory": deepstate.territory,
}


def sample_files(seed: int = 7, days: int = 400) -> dict[str, bytes]:
    """Every catalogue file a run needs, keyed by its path relative to the source folder."""
    catalogue = load_catalogue()
    if missing := sorted(set(catalogue) - set(GENERATORS)):
        raise ConfigError(
            f"source(s) {', '.join(missing)} in sources.toml: no sample generator; expected "
            "one per source in flows/s1_sources/samples/ (GENERATORS)"
        )
    draw = Draw(seed, days, random.Random(seed))
    files: dict[str, bytes] = {}
    for name, generate in GENERATORS.items():
        files |= generate(catalogue[name], draw)
    return files


def write_sample_sources(folder: Path, seed: int = 7) -> Path:
    """Write the sample files laid out like ../shared/data; returns the folder."""
    for relative, content in sample_files(seed).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (folder / "GENERATED-SAMPLE-DATA.txt").write_text(LABEL)
    return folder


__all__ = [
    "FIRST",
    "GENERATORS",
    "LABEL",
    "REGIONS",
    "UNITS",
    "sample_files",
    "sample_map",
    "write_sample_sources",
]
