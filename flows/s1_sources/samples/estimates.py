"""Published estimates of deaths and casualties (The Economist's list), in its mixed formats."""

from __future__ import annotations

from flows.s1_sources.catalogue import Source
from flows.s1_sources.samples.common import Draw, write_csv

HEADER = [
    "date",
    "estimate_low",
    "estimate_high",
    "estimate",
    "type",
    "source",
    "source_url",
    "country",
    "ignore for chart, data from warring parties",
]
# as in the real list: D/M/YYYY dates with and without leading zeros, a range with a thousands
# comma, a single figure from a warring party
ROWS = [
    [
        "1/6/2022",
        "10000",
        "15,000",
        "",
        "deaths",
        "Sample agency",
        "https://example.org/1",
        "russia",
        "",
    ],
    [
        "01/03/2023",
        "",
        "",
        "90000",
        "casualties",
        "Sample ministry",
        "https://example.org/2",
        "russia",
        "yes",
    ],
]


def published_estimates(source: Source, draw: Draw) -> dict[str, bytes]:
    return {"economist/soldier_deaths_casualties_estimates.csv": write_csv(HEADER, ROWS)}
