"""The Economist's files: weekly named deaths with vintages, and the area controlled by Russia."""

from __future__ import annotations

from datetime import date, timedelta

from flows.s1_sources.catalogue import Source
from flows.s1_sources.samples.common import FIRST, Draw, write_csv

WEEKLY_HEADER = [
    "Year",
    "Week",
    "BmzNow",
    "Bmz2022",
    "Bmz2023",
    "Bmz2024",
    "Bmz2025",
    "ED",
    "EDHigh",
    "EDLow",
    "EDPrediction",
    "EDPredictionHigh",
    "EDPredictionLow",
    "EDAssembled",
    "EDAssembledHigh",
    "EDAssembledLow",
]
AREA_HEADER = [
    "date",
    "area_assessed_as_russia_controlled",
    "change_in_area_assessed_as_russia_controlled",
    "change_in_area_assessed_as_russia_controlled_in_past_7_days",
    "change_in_area_assessed_as_russia_controlled_in_past_30_days",
    "area_assessed_as_russia_controlled_percent",
]


def weekly_named(source: Source, draw: Draw) -> dict[str, bytes]:
    """Named deaths per ISO week (one vintage column filled) and probate estimates; with a BOM,
    like the real 2024 and 2025 files."""
    weekly = []
    for w in range(draw.days // 7):
        monday = date(2022, 2, 21) + timedelta(weeks=w)
        iso = monday.isocalendar()
        named = draw.rng.randint(100, 400)
        vintages = ["", "", "", named]  # Bmz2022 .. Bmz2025
        estimates = [named * 1.2, named * 1.5, named]  # ED, EDHigh, EDLow
        assembled = [named * 1.3, named * 1.6, named * 1.1]  # EDAssembled, High, Low
        weekly.append([iso.year, iso.week, named, *vintages, *estimates, "", "", "", *assembled])
    return {"economist/meduza_2026_weekly.csv": b"\xef\xbb\xbf" + write_csv(WEEKLY_HEADER, weekly)}


def territory_area(source: Source, draw: Draw) -> dict[str, bytes]:
    """The daily area (m²) assessed as controlled by Russia, growing from about 43,679 km²."""
    area, rows = 43_679_052_552.0, []
    for i in range(draw.days):
        area += draw.rng.uniform(-1e6, 2e8)
        rows.append([(FIRST + timedelta(i)).isoformat(), area, "", "", "", area / 6.03548e9])
    return {"economist/area_assessed_as_controlled_by_russia.csv": write_csv(AREA_HEADER, rows)}
