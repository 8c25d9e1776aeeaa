"""Published estimates of soldiers' deaths and casualties (The Economist's collection)."""

from __future__ import annotations

import polars as pl

from flows.s2_ingest.parsing import Parsed, read_csv_strings, type_columns

WARRING_PARTY_FLAG = "ignore for chart, data from warring parties"
COLUMNS = [
    "date",
    "estimate_low",
    "estimate_high",
    "estimate",
    "type",
    "source",
    "source_url",
    "country",
    WARRING_PARTY_FLAG,
]
NUMBERS = ("estimate_low", "estimate_high", "estimate")
SCHEMA = {
    "date": "date",
    "estimate_low": "int",
    "estimate_high": "int",
    "estimate": "int",
    "type": "str",
    "source": "str",
    "source_url": "str",
    "country": "str",
    "from_warring_party": "str",
}


def parse_estimates(source: str, file: str, content: bytes) -> Parsed:
    """One row per published estimate; dates are D/M/YYYY, some numbers carry thousands commas."""
    frame = read_csv_strings(source, file, content, COLUMNS).rename(
        {WARRING_PARTY_FLAG: "from_warring_party"}
    )
    day_month_year = pl.col("date").str.strip_chars().str.split("/")
    cleaned = frame.with_columns(
        # "1/12/2025" and "01/12/2025" both occur: rebuild as ISO before typing
        pl.when(day_month_year.list.len() == 3)
        .then(
            pl.format(
                "{}-{}-{}",
                day_month_year.list.get(2, null_on_oob=True),
                day_month_year.list.get(1, null_on_oob=True).str.zfill(2),
                day_month_year.list.get(0, null_on_oob=True).str.zfill(2),
            )
        )
        .otherwise(pl.col("date"))
        .alias("date"),
        *[pl.col(c).str.replace_all(",", "") for c in NUMBERS],
        pl.col("type").str.strip_chars().str.to_lowercase(),
        pl.col("country").str.strip_chars().str.to_lowercase(),
        pl.col("source").str.strip_chars(),
    )
    parsed = type_columns(cleaned, SCHEMA, not_null={"date", "type", "source", "country"})
    no_figure = parsed.rows.filter(pl.all_horizontal(pl.col(c).is_null() for c in NUMBERS))
    if no_figure.height == 0:
        return parsed
    rejected = no_figure.select(
        "source_row",
        pl.lit("estimate_low, estimate_high, estimate: expected at least one number").alias(
            "reason"
        ),
        pl.format("{} {}", pl.col("date"), pl.col("source")).alias("raw_row"),
    )
    return Parsed(
        rows=parsed.rows.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in NUMBERS)),
        rejected=pl.concat([parsed.rejected, rejected]),
    )
