"""The report's charts as Altair specs, rendered to PNG by vl-convert (no browser needed)."""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import polars as pl
import vl_convert as vlc

from flows.s6_report.figures import MIN_MONTHLY_KM2, Figures, backtest_scores

WIDTH = 760
NAMED = "#b2182b"
CLAIMED = "#2166ac"
SOURCES_NAMED = "Mediazona/BBC Russian named lists by date of death"
STATE_LABELS = (
    "datum.label == 'complete' ? 'complete' : datum.label == 'provisional' ? "
    "'provisional (still growing)' : 'partial (week not over)'"
)


def _titled(chart: alt.Chart, title: str, subtitle: list[str]) -> alt.Chart:
    return chart.properties(
        title=alt.TitleParams(title, subtitle=subtitle, anchor="start", fontSize=15)
    )


def _footer(as_of: date, sources: str) -> str:
    return f"Source: {sources}. Data to {as_of:%d %b %Y}."


def weekly_chart(fig: Figures) -> alt.Chart:
    weekly = fig.weekly.with_columns(pl.col("week_start").cast(pl.Datetime))
    x = alt.X(
        "week_start:T",
        title="Week of death (ISO week, Monday start)",
        axis=alt.Axis(format="%b %Y"),
    )
    # a count that can still grow is drawn paler than a complete one, never like it
    state = alt.Color(
        "period_state:N",
        title="week's count",
        scale=alt.Scale(
            domain=["complete", "provisional", "partial"],
            range=["#7f7f7f", "#c7c7c7", "#ececec"],
        ),
        legend=alt.Legend(orient="top-left", labelExpr=STATE_LABELS),
    )
    bars = (
        alt.Chart(weekly)
        .mark_bar(width=2)
        .encode(x=x, y=alt.Y("named_deaths:Q", title="Named deaths per week"), color=state)
    )
    avg = alt.Chart(weekly).mark_line(color=NAMED, strokeWidth=2).encode(x=x, y="rolling_4w_avg:Q")
    nowcast = weekly.filter(pl.col("nowcast_deaths").is_not_null())
    band = (
        alt.Chart(nowcast)
        .mark_area(color="#fdae61", opacity=0.45)
        .encode(x=x, y="nowcast_deaths_low:Q", y2="nowcast_deaths_high:Q")
    )
    line = (
        alt.Chart(nowcast)
        .mark_line(color="#e66101", strokeDash=[4, 3], strokeWidth=2)
        .encode(x=x, y="nowcast_deaths:Q")
    )
    chart = (bars + band + line + avg).properties(width=WIDTH, height=320)
    return _titled(
        chart,
        "Named Russian military deaths per week",
        [
            "Bars: named so far (dark: complete; pale: provisional, names still arrive for about "
            "two years: those bars will rise); red: 4-week average of complete weeks only",
            "Orange: nowcast of weeks 5-25 weeks old, the count expected in the first vintage "
            "26 weeks on, with its 80% band (none for the 5 newest weeks)",
            _backtest_line(fig),
            _footer(fig.as_of, SOURCES_NAMED + "; nowcast by toll"),
        ],
    )


def _backtest_line(fig: Figures) -> str:
    scores = backtest_scores(fig.nowcast_scores)
    if not scores["cutoffs"]:
        return "Too few vintages to back-test the nowcast."
    return (
        f"Back-tested at {scores['cutoffs']} past cut-offs against the count 26 weeks later: "
        f"totals off {scores['window_total_mean_abs_error']:.0%} on average (bias "
        f"{scores['window_total_bias']:+.0%}; published count alone "
        f"{scores['published_window_total_mean_abs_error']:.0%}); band held "
        f"{scores['band_coverage']:.0%} of weeks, {scores['share_above_band']:.0%} above it "
        "(after big uploads of old names)"
    )


def cumulative_chart(fig: Figures) -> alt.Chart:
    long = (
        fig.cumulative.rename(
            {
                "named_cumulative": "Named deaths (Mediazona/BBC)",
                "claimed_personnel_cumulative": "Claimed killed and wounded (UA General Staff)",
            }
        )
        .drop("claims_published_through")
        .unpivot(index="date", variable_name="series", value_name="people")
        .drop_nulls("people")
        .with_columns(pl.col("date").cast(pl.Datetime))
    )
    chart = (
        alt.Chart(long)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("date:T", title="Date", axis=alt.Axis(format="%b %Y")),
            y=alt.Y(
                "people:Q",
                title="People, cumulative since 24 Feb 2022 (log scale)",
                scale=alt.Scale(type="log", domain=[100, 3_000_000], nice=False),
                axis=alt.Axis(values=[100, 1_000, 10_000, 100_000, 1_000_000], format=","),
            ),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(range=[CLAIMED, NAMED]),
                legend=alt.Legend(orient="top-left", labelLimit=0),
            ),
        )
        .properties(width=WIDTH, height=320)
    )
    claims_end = fig.cumulative.drop_nulls("claimed_personnel_cumulative")["date"].max()
    published = fig.cumulative["claims_published_through"].drop_nulls()
    claims_note = (
        f"; published to {published.max():%d %b %Y}, shown to the named cut-off"
        if published.len() and claims_end is not None and published.max() > claims_end
        else ""
    )
    # the named line's last stretch still grows (names arrive for about two years): shaded
    weeks = int((fig.settings or {}).get("provisional_weeks", 112))
    since = fig.as_of - timedelta(weeks=weeks)
    shade = (
        alt.Chart(pl.DataFrame({"start": [since], "end": [fig.as_of]}).cast(pl.Datetime))
        .mark_rect(color="#bdbdbd", opacity=0.25)
        .encode(x="start:T", x2="end:T")
    )
    chart = (shade + chart).properties(width=WIDTH, height=320)
    return _titled(
        chart,
        "Named deaths against official Ukrainian claims, cumulative",
        [
            "Claims count killed and wounded and are a warring party's figure; named deaths are "
            "a floor (names cover roughly 45-65% of deaths)",
            f"Shaded: provisional, from {since:%b %Y}: names for those days still arrive, the "
            "named line there will rise",
            f"Source: {SOURCES_NAMED} (to {fig.as_of:%d %b %Y}); General Staff of the Armed "
            f"Forces of Ukraine via PetroIvaniuk (to {claims_end:%d %b %Y}{claims_note}).",
        ],
    )


def regions_chart(fig: Figures) -> alt.Chart:
    # GeoNames spellings alone are ambiguous ("Altai" and "Altai Krai"): the ISO code says which
    regions = fig.regions.with_columns(
        pl.format("{} ({})", pl.coalesce("name_en", "region_code"), pl.col("region_code")).alias(
            "region"
        )
    )
    first = regions["first_year"].min()
    chart = (
        alt.Chart(regions)
        .mark_bar(color=NAMED)
        .encode(
            x=alt.X(
                "rate_per_100k:Q", title="Named deaths per 100,000 men aged 16-61.5 (2021 census)"
            ),
            y=alt.Y("region:N", sort="-x", title=None, axis=alt.Axis(labelFontSize=9)),
            tooltip=["region", "named_deaths", "rate_per_100k"],
        )
        .properties(width=WIDTH - 160, height=13 * regions.height)
    )
    return _titled(
        chart,
        "Named deaths per 100,000 working-age men, by home region",
        [
            f"All {regions.height} regions, highest first; deaths confirmed {first}-April 2023 "
            "(the regional list stops then)",
            "Source: Bessudnov (2023), doi:10.31235/osf.io/s43yf; 2021 census via the same. "
            "Not the Mediazona vintage of the other charts.",
        ],
    )


def km2_chart(fig: Figures) -> alt.Chart:
    monthly = fig.monthly_km2.filter(pl.col("deaths_per_km2").is_not_null()).with_columns(
        pl.col("month").cast(pl.Datetime)
    )
    chart = (
        alt.Chart(monthly)
        .mark_bar(color=NAMED)
        .encode(
            x=alt.X("month:T", title="Month", timeUnit="yearmonth", axis=alt.Axis(format="%b %Y")),
            y=alt.Y("deaths_per_km2:Q", title="Named deaths per km² captured"),
            # months whose names are still arriving are drawn pale, never like final ones
            opacity=alt.condition(
                "datum.partial_month || datum.provisional_month", alt.value(0.35), alt.value(1.0)
            ),
        )
        .properties(width=WIDTH, height=300)
    )
    return _titled(
        chart,
        "Named deaths per square kilometre of territory captured, by month",
        [
            f"Blank: months in which Russia lost ground or gained under {MIN_MONTHLY_KM2:.0f} km². "
            "Pale: provisional months (names still arrive for about two years): they will rise.",
            f"Source: {SOURCES_NAMED} (to {fig.as_of:%d %b %Y}); area controlled by Russia: "
            f"DeepState maps (deepstatemap.live, via cyterat/deepstate-map-data; "
            f"{_area_through(monthly)}).",
        ],
    )


def _area_through(monthly: pl.DataFrame) -> str:
    dates = monthly["area_through"].drop_nulls() if "area_through" in monthly.columns else None
    return f"to {dates.max():%d %b %Y}" if dates is not None and dates.len() else "no map yet"


CHARTS = {
    "weekly_named_deaths.png": weekly_chart,
    "cumulative_named_vs_claims.png": cumulative_chart,
    "deaths_per_100k_by_region.png": regions_chart,
    "deaths_per_km2_by_month.png": km2_chart,
}


# The rows each chart draws, written beside its PNG as CSV for a graphics desk to redraw it.
CHART_DATA = {
    "weekly_named_deaths.png": lambda fig: fig.weekly,
    "cumulative_named_vs_claims.png": lambda fig: fig.cumulative,
    "deaths_per_100k_by_region.png": lambda fig: fig.regions,
    "deaths_per_km2_by_month.png": lambda fig: fig.monthly_km2,
}


def render_png(chart: alt.Chart) -> bytes:
    # Altair refuses more than 5,000 rows (a notebook guard); years of daily series exceed it
    with alt.data_transformers.disable_max_rows():
        spec = chart.to_json()
    return vlc.vegalite_to_png(spec, scale=1.5)
