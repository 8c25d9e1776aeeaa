"""Which parser reads which source format (the `format` key in sources.toml)."""

from __future__ import annotations

from collections.abc import Callable

from flows.errors import ConfigError
from flows.s2_ingest.parsers import (
    bessudnov,
    deepstate,
    economist,
    estimates,
    general_staff,
    mediazona,
    regions,
)
from flows.s2_ingest.parsing import Parsed

Parser = Callable[[str, str, bytes], Parsed]

PARSERS: dict[str, Parser] = {
    "mediazona_cumsum": mediazona.parse_cumsum,
    "economist_weekly_2026": economist.parse_weekly_2026,
    "economist_area": economist.parse_area,
    "economist_estimates": estimates.parse_estimates,
    "bessudnov_fatalities": bessudnov.parse_records,
    "bessudnov_census": bessudnov.parse_census,
    "bessudnov_regnames": bessudnov.parse_region_names,
    "ua_general_staff_personnel": general_staff.parse_personnel,
    "hflabs_regions": regions.parse_regions,
    "deepstate_geojson": deepstate.parse_snapshot,
}


def parser_for(format_name: str) -> Parser:
    try:
        return PARSERS[format_name]
    except KeyError:
        raise ConfigError(
            f"unknown source format {format_name!r}; known: {sorted(PARSERS)}"
        ) from None
