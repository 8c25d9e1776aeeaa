"""The published-estimates parser: day/month/year dates, thousands commas, warring-party flag."""

from __future__ import annotations

import datetime as dt

from flows.s2_ingest.parsers import estimates

HEADER = (
    "date,estimate_low,estimate_high,estimate,type,source,source_url,country,"
    '"ignore for chart, data from warring parties"\n'
)


def test_dates_numbers_and_flag() -> None:
    content = (
        HEADER
        + '21/06/2024,106000,"140,000",120000,deaths,Mediazona; Meduza,"(via email)",russia,\n'
        + "1/12/2025,,,390580,Casualties,Armed Forces of Ukraine,https://x.org,Russia,yes"
    ).encode()
    parsed = estimates.parse_estimates("published_estimates", "e.csv", content)
    rows = parsed.rows.to_dicts()
    assert parsed.rejected.height == 0
    assert rows[0]["date"] == dt.date(2024, 6, 21)
    assert (rows[0]["estimate_low"], rows[0]["estimate_high"], rows[0]["estimate"]) == (
        106_000,
        140_000,
        120_000,
    )
    assert rows[0]["from_warring_party"] is None
    assert rows[1]["date"] == dt.date(2025, 12, 1)
    assert (rows[1]["type"], rows[1]["country"], rows[1]["from_warring_party"]) == (
        "casualties",
        "russia",
        "yes",
    )


def test_row_without_any_figure_or_with_bad_date_is_quarantined() -> None:
    content = (
        HEADER
        + "03/05/2024,,,,deaths,Nobody,https://x.org,russia,\n"
        + "31/02/2024,1,2,,deaths,Bad date,https://x.org,russia,\n"
        + "03/05/2024,,,150000,deaths,French foreign minister,https://x.org,russia,\n"
    ).encode()
    parsed = estimates.parse_estimates("published_estimates", "e.csv", content)
    assert parsed.rows["source"].to_list() == ["French foreign minister"]
    reasons = dict(zip(parsed.rejected["source_row"], parsed.rejected["reason"], strict=True))
    assert "expected at least one number" in reasons[1]
    assert "date: expected date" in reasons[2]
