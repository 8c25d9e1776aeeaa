"""fct_yearly_summary on hand-made inputs: the reference article's method and figures."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from flows.config import Settings
from flows.s3_build.models import discover, run_macros

ARTICLE_NAMED = 106_745  # named since the invasion in the BBC/Mediazona article (Feb 2025)
FIRST_DAY = date(2022, 2, 24)
LAST_DAY = date(2025, 2, 23)
DEADLIEST = date(2024, 2, 20)


def _summary(variables: dict) -> dict[tuple[str, str], dict]:
    """Run the real model SQL over three war years of invented days holding the article's total."""
    con = duckdb.connect()
    run_macros(con)
    for name, value in variables.items():
        con.execute(f"set variable {name} = ?", [value])
    days = [FIRST_DAY + timedelta(n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    per_day = ARTICLE_NAMED // len(days)
    rows = [
        (
            day,
            per_day + (ARTICLE_NAMED - per_day * len(days) if day == DEADLIEST else 0),
            100_000.0 + (day - FIRST_DAY).days,
        )
        for day in days
    ]
    con.execute(
        "create table fct_daily_losses (date date, named_deaths bigint, provisional boolean,"
        " claimed_personnel bigint, occupied_km2 double, occupied_km2_alt double, as_of date)"
    )
    con.executemany(
        "insert into fct_daily_losses values (?, ?, false, 1000, ?, ?, ?)",
        # the comparison series grows twice as fast
        [(*r, 2 * r[2] - 100_000.0, LAST_DAY) for r in rows],
    )
    con.execute(
        """
        create table dim_week as
        select distinct date_trunc('week', "date")::date as week_start,
            greatest(1, war_year((date_trunc('week', "date") + interval 3 day)::date)) as war_year
        from fct_daily_losses;
        create table fct_weekly_losses as
        select week_start, isoyear(week_start)::integer as iso_year,
            week(week_start)::integer as iso_week, named_deaths,
            7.0 as probate_estimate, 5.0 as probate_estimate_low, 9.0 as probate_estimate_high
        from (
            select date_trunc('week', "date")::date as week_start,
                sum(named_deaths)::bigint as named_deaths
            from fct_daily_losses group by 1
        )
        """
    )
    sql = discover()["fct_yearly_summary"].sql
    frame = con.sql(sql).pl()
    return {(r["period_type"], r["period"]): r for r in frame.to_dicts()}


def _defaults() -> dict:
    return {k: v for k, v in Settings().result_affecting().items() if k != "as_of"}


def test_article_inputs_reproduce_article_figures():
    whole = _summary(_defaults())[("whole_war", "since 2022-02-24")]
    assert whole["named_deaths"] == ARTICLE_NAMED
    assert whole["estimate_low"] == 164_223
    assert whole["estimate_high"] == 237_211
    # "a total of up to 260,700": the DNR/LNR add-on beside the range, rounded to hundreds
    assert whole["total_with_addon_high"] == 260_700
    assert whole["total_with_addon_low"] == 185_200
    assert (whole["dnr_lnr_addon_low"], whole["dnr_lnr_addon_high"]) == (21_000, 23_500)


def test_add_on_is_never_mixed_into_named_counts_or_years():
    rows = _summary(_defaults())
    assert sum(r["named_deaths"] for (t, _), r in rows.items() if t == "war_year") == ARTICLE_NAMED
    for (period_type, _), row in rows.items():
        if period_type != "whole_war":
            assert row["dnr_lnr_addon_high"] is None and row["total_with_addon_high"] is None
        assert row["estimate_high"] == round(row["named_deaths"] / 0.45)


def test_periods_deadliest_day_week_ratio_and_area():
    rows = _summary(_defaults())
    assert sorted(p for t, p in rows if t == "war_year") == ["2022-23", "2023-24", "2024-25"]
    assert sorted(p for t, p in rows if t == "calendar") == ["2022", "2023", "2024", "2025"]
    first = rows[("war_year", "2022-23")]
    assert first["ratio_to_first_war_year"] == 1.0
    assert (first["period_start"], first["period_end"]) == (date(2022, 2, 24), date(2023, 2, 23))
    y2024 = rows[("calendar", "2024")]
    assert y2024["deadliest_day"] == DEADLIEST
    assert y2024["deadliest_day_deaths"] == 97 + 433
    assert y2024["deadliest_week_start"] == date(2024, 2, 19)
    assert y2024["deadliest_iso_week"] == "2024-W08"
    # area grows 1 km² a day: a calendar year gains its number of days
    assert y2024["km2_gained"] == pytest.approx(366)
    assert y2024["km2_gained_alt"] == pytest.approx(2 * 366)
    assert y2024["deaths_per_km2"] == pytest.approx(y2024["named_deaths"] / 366)
    mid = (y2024["estimate_low"] + y2024["estimate_high"]) / 2
    assert y2024["estimate_mid_per_km2"] == pytest.approx(mid / 366)
    assert rows[("calendar", "2025")]["is_complete"] is False
    assert rows[("calendar", "2025")]["data_through"] == LAST_DAY
    assert y2024["probate_weeks"] == 52
    assert y2024["probate_estimate"] == pytest.approx(7.0 * 52)


def test_coverage_bounds_are_read_from_settings():
    whole = _summary({**_defaults(), "coverage_low": 0.5, "coverage_high": 0.8})
    whole = whole[("whole_war", "since 2022-02-24")]
    assert whole["estimate_low"] == round(ARTICLE_NAMED / 0.8)
    assert whole["estimate_high"] == round(ARTICLE_NAMED / 0.5)
