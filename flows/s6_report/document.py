"""The report as one self-contained HTML page (charts inlined) and a markdown summary."""

from __future__ import annotations

import base64
import html

import polars as pl

from flows.s6_report.figures import Figures, backtest_scores, backtest_summary, with_batches

PERIOD_NAMES = {"calendar": "Calendar year", "war_year": "War year", "whole_war": "Whole war"}


def _range(low: object, high: object) -> str:
    """An estimate range; an open one in words ("up to 25,000"), never as a dangling dash."""
    if low is None and high is None:
        return "–"
    if low is None:
        return f"up to {_n(high)}"
    if high is None:
        return f"at least {_n(low)}"
    return f"{_n(low)}–{_n(high)}"


def _n(value: object, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value != value:  # NaN
        return "–"
    return f"{value:,.{digits}f}"


def method_paragraph(fig: Figures) -> str:
    s = fig.settings
    return (
        "Named deaths are the soldiers Mediazona and BBC Russian have identified by name, counted "
        f"by date of death in the Mediazona vintage of {fig.as_of:%d %B %Y}; deaths without a "
        "known date are not in these counts. Names cover only part of real deaths, so the "
        f"estimate range divides them by the share covered: low = named / {s['coverage_high']}, "
        f"high = named / {s['coverage_low']}. Forces of the Donetsk and Luhansk 'republics' are "
        f"missing from the lists: {_n(s['dnr_lnr_addon_low'])}–{_n(s['dnr_lnr_addon_high'])} are "
        "shown beside the whole-war total (rounded to hundreds), never added to named counts. "
        "War years run 24 February to 23 February; a week belongs to the year of its Thursday. "
        "km² captured is the change in area controlled by Russia between the day before a period "
        "and its last day. The probate-registry column is The Economist/Meduza's independent "
        "estimate of deaths from inheritance cases (sum of weekly figures, bounds = sums of weekly "
        "95% bounds). Every figure covers the period up to the data cut-off; recent periods keep "
        "growing for months as obituaries appear."
    )


def yearly_rows(fig: Figures) -> list[dict]:
    return fig.yearly.to_dicts()


def _yearly_table(fig: Figures) -> str:
    head = (
        "<tr><th>period</th><th>to</th><th>named deaths</th><th>× first war year</th>"
        "<th>estimate range</th><th>probate estimate (95% bounds)</th>"
        "<th>deadliest day</th><th>deadliest ISO week</th><th>km² captured</th>"
        "<th>named per km²</th><th>estimate mid per km²</th></tr>"
    )
    rows = []
    for r in yearly_rows(fig):
        period = f"{PERIOD_NAMES[r['period_type']]} {html.escape(r['period'])}"
        state = r.get("period_state")
        if state and state != "complete":
            # a count still growing must say so where it is read, not only in the notes
            period += f" <b>({html.escape(state)})</b>"
        probate = (
            f"{_n(r['probate_estimate'])} ({_n(r['probate_estimate_low'])}–"
            f"{_n(r['probate_estimate_high'])}; {r['probate_weeks']} wk)"
            if r["probate_weeks"]
            else "–"
        )
        estimate = f"{_n(r['estimate_low'])}–{_n(r['estimate_high'])}"
        if state and state != "complete":
            estimate += "<br><small>rests on a count still growing: a floor</small>"
        if r["period_type"] == "whole_war":
            estimate += (
                f"<br><small>with DNR/LNR forces ({_n(r['dnr_lnr_addon_low'])}–"
                f"{_n(r['dnr_lnr_addon_high'])}): {_n(r['total_with_addon_low'])}–"
                f"{_n(r['total_with_addon_high'])}</small>"
            )
        rows.append(
            "<tr>"
            f"<td>{period}</td><td>{r['data_through']}</td>"
            f"<td class=n>{_n(r['named_deaths'])}</td>"
            f"<td class=n>{_n(r['ratio_to_first_war_year'], 2)}</td>"
            f"<td class=n>{estimate}</td><td class=n>{probate}</td>"
            f"<td>{r['deadliest_day']} ({_n(r['deadliest_day_deaths'])})</td>"
            f"<td>{r['deadliest_iso_week']} ({_n(r['deadliest_week_deaths'])})</td>"
            f"<td class=n>{_n(r['km2_gained'])}</td>"
            f"<td class=n>{_n(r['deaths_per_km2'], 1)}</td>"
            f"<td class=n>{_n(r['estimate_mid_per_km2'], 1)}</td>"
            "</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _estimates_table(fig: Figures) -> str:
    deaths = fig.estimates.filter(
        (pl.col("estimate_type") == "deaths") & (pl.col("losses_of") == "russia")
    )
    rows = []
    for r in deaths.to_dicts():
        figure = (
            _n(r["estimate_point"])
            if r["estimate_point"] is not None
            else _range(r["estimate_low"], r["estimate_high"])
        )
        mark = " <b>(warring party)</b>" if r["from_warring_party"] else ""
        rows.append(
            f"<tr><td>{r['estimate_date']}</td><td class=n>{figure}</td>"
            f"<td>{html.escape(r['published_by'])}{mark}</td>"
            f'<td><a href="{html.escape(r["source_url"] or "")}">link</a></td></tr>'
        )
    return (
        "<table><tr><th>date</th><th>Russian soldiers killed</th><th>published by</th>"
        f"<th>source</th></tr>{''.join(rows)}</table>"
    )


NOWCAST_METHOD = (
    "Names are published weeks to years after a death, so recent weeks look too low. For each "
    "week 5 to 25 weeks old, the nowcast predicts an observable count: the names the Mediazona "
    "list will hold for that week in its first vintage at least 26 weeks (182 days) after the "
    "newest one, not the week's final count (names keep arriving for years). It grows the count "
    "published so far by how fast weeks of the same age grew between consecutive Mediazona "
    "vintages over the last 13 weeks, then looks at its own past errors on the same target "
    "(earlier cut-offs whose 26 weeks had passed, at ages within 6 weeks): half their median "
    "corrects the nowcast, their 10th and 90th percentiles give the 80% band. Everything is "
    "learnt from the vintages known at the time. Weeks under 5 weeks old get no nowcast: so few "
    "of their names are out that a band would say nothing."
)


def _late_additions(fig: Figures) -> str:
    share = fig.late_additions_share
    if share is None or share != share:  # too few vintages: NULL, or NaN from 0 / 0
        return ""
    return (
        f"over the last year, {share:.0%} of the names added to the list were "
        "for deaths more than 26 weeks before; "
    )


# batch names between a cut-off and its target vintage from which the report compares errors
BIG_BATCH = 10_000


def _backtest_section(fig: Figures) -> str:
    scores = backtest_scores(fig.nowcast_scores)
    if not scores["cutoffs"]:
        return (
            f"<p>{NOWCAST_METHOD}</p><p>Too few vintages (13 weeks of vintages and 26 weeks of "
            "outcomes are needed) to nowcast or back-test.</p>"
        )
    bands = "".join(
        f"<tr><td>{band}</td><td class=n>{r['cutoffs']}</td><td class=n>{r['weeks']}</td>"
        f"<td class=n>{r['window_total_mean_abs_error']:.1%}</td>"
        f"<td class=n>{r['window_total_bias']:+.1%}</td>"
        f"<td class=n>{r['week_mean_abs_error']:.1%}</td><td class=n>{r['week_bias']:+.1%}</td>"
        f"<td class=n>{r['band_coverage']:.1%}</td><td class=n>{r['share_below_band']:.1%}</td>"
        f"<td class=n>{r['share_above_band']:.1%}</td>"
        f"<td class=n>{r['published_window_total_mean_abs_error']:.1%}</td></tr>"
        for band, r in [("5-25 (all)", scores), *scores["by_lag_band"].items()]
    )
    summary = with_batches(backtest_summary(fig.backtest), fig.vintage_steps)
    rows = "".join(
        f"<tr><td>{r['cutoff']}</td><td>{r['target_vintage']}</td>"
        f"<td class=n>{r['weeks']}</td><td class=n>{_n(r['published'])}</td>"
        f"<td class=n>{_n(r['nowcast'])}</td><td class=n>{_n(r['at_target'])}</td>"
        f"<td class=n>{r['nowcast_error']:+.0%}</td><td class=n>{r['published_error']:+.0%}</td>"
        f"<td class=n>{r['band_coverage']:.0%}</td><td class=n>{_n(r['batch_names'])}</td></tr>"
        for r in summary.to_dicts()
    )
    worst = summary.sort(pl.col("nowcast_error").abs(), descending=True).head(1).to_dicts()
    worst_text = (
        f"The worst cut-off, {worst[0]['cutoff']}, was off by {worst[0]['nowcast_error']:+.0%}. "
        if worst
        else ""
    )
    big = summary.filter(pl.col("batch_names") >= BIG_BATCH)
    small = summary.filter(pl.col("batch_names") < BIG_BATCH)
    if big.height and small.height:
        worst_text += (
            f"The {big.height} cut-offs followed by at least {BIG_BATCH:,} names in flagged "
            f"batches before their target vintage were off by {big['nowcast_error'].mean():+.0%} "
            f"on average, the {small.height} others by {small['nowcast_error'].mean():+.0%}. "
        )
    return (
        f"<p>{NOWCAST_METHOD}</p>"
        f"<p>Back-test: at each of {scores['cutoffs']} past cut-offs ({scores['first_cutoff']} "
        f"to {scores['last_cutoff']}), the nowcast was rebuilt from the vintages known then and "
        "compared with the count at its target vintage. The total of a cut-off's weeks was off "
        f"by <b>{scores['window_total_mean_abs_error']:.1%}</b> on average (bias "
        f"<b>{scores['window_total_bias']:+.1%}</b>), against "
        f"{scores['published_window_total_mean_abs_error']:.0%} taking the published counts as "
        f"they stood; the 80% band held <b>{scores['band_coverage']:.1%}</b> of weeks "
        f"({scores['share_below_band']:.1%} fell below it, "
        f"{scores['share_above_band']:.1%} above). Not scored: {scores['excluded_lags']}.</p>"
        f"<p>Where it fails: it runs low when a large upload of old names lands in the 26 weeks "
        f"after the cut-off ({_late_additions(fig)}such uploads are not foreseeable from the "
        "vintages before), so misses above the band outnumber those below; the band of the "
        "youngest weeks (5-9 weeks old) is several times wider than that of older ones. "
        f"{worst_text}</p>"
        "<table><tr><th>lags (weeks)</th><th>cut-offs</th><th>weeks</th>"
        "<th>total: mean abs. error</th><th>total: bias</th><th>per week: mean abs. error</th>"
        "<th>per week: bias</th>"
        "<th>band held</th><th>below band</th><th>above band</th>"
        f"<th>published count alone: total error</th></tr>{bands}</table>"
        "<table><tr><th>cut-off</th><th>target vintage</th><th>weeks</th>"
        "<th>published then</th><th>nowcast</th><th>at target</th><th>nowcast error</th>"
        "<th>error without</th><th>in band</th><th>names in flagged batches before the target</th>"
        f"</tr>{rows}</table>"
    )


def _batches_section(fig: Figures) -> str:
    steps = fig.vintage_steps
    if steps is None or steps.height == 0:
        return ""
    flagged = steps.filter(pl.col("batch_flag"))
    rows = "".join(
        f"<tr><td>{r['previous_as_of']} to {r['as_of']}</td>"
        f"<td>{r['previous_effective_date']} to {r['effective_date']}</td>"
        f"<td class=n>{_n(r['names_added'])}</td><td class=n>{r['names_per_day']:,.0f}</td>"
        f"<td class=n>{r['usual_names_per_day']:,.0f}</td>"
        f"<td class=n>{r['old_share']:.0%}</td></tr>"
        for r in flagged.to_dicts()
    )
    intro = (
        f"<h3>Batches of old names</h3><p>Of {steps.height} steps between consecutive Mediazona "
        f"vintages, {flagged.height} added names more than 3 times as fast as the median step "
        "before them (per day between the vintages' effective dates, their last days not "
        "zero-padded). Most of such a batch is for deaths at least 26 weeks old; the back-test "
        "table above counts, per cut-off, the names such batches added before its target "
        "vintage (fct_named_vintage_steps).</p>"
    )
    if not rows:
        return intro
    return (
        intro + "<table><tr><th>vintages</th><th>effective dates</th><th>names added</th>"
        "<th>per day</th><th>usual per day</th><th>for deaths &ge; 26 weeks old</th></tr>"
        f"{rows}</table>"
    )


STYLE = """
body{font-family:Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums} img{max-width:100%}
"""


def render_html(fig: Figures, charts: dict[str, bytes], snapshot: str) -> str:
    images = "".join(
        f'<figure><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        for name, png in charts.items()
    )
    heading = (
        "INVENTED SAMPLE DATA (toll run --demo): not real figures"
        if fig.invented
        else "Russian military deaths in Ukraine: named, estimated, and what they cost"
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{'INVENTED SAMPLE DATA: ' if fig.invented else ''}toll report, data to "
        f"{fig.as_of}</title><style>{STYLE}</style></head><body>"
        f"<h1>{heading}</h1>"
        f"<p>toll snapshot <code>{html.escape(snapshot)}</code>; named-death data to "
        f"<b>{fig.as_of:%d %B %Y}</b>. Figures are read from the snapshot's published tables "
        "(fct_yearly_summary, fct_weekly_losses, fct_daily_losses, fct_regional_losses, "
        "fct_published_estimates, fct_nowcast_backtest, fct_nowcast_scores, "
        "fct_named_vintage_steps).</p>"
        f"<h2>Yearly summary</h2>{_yearly_table(fig)}<p>{method_paragraph(fig)}</p>"
        f"<h2>Charts</h2>{images}"
        f"<h2>Nowcast of recent weeks</h2>{_backtest_section(fig)}{_batches_section(fig)}"
        "<h2>Published estimates, for context</h2><p>Russian soldiers killed, as published by "
        "governments, researchers and media (The Economist's collection, CC BY 4.0). Figures "
        "from Russia's or Ukraine's state are marked: they are a warring party's.</p>"
        f"{_estimates_table(fig)}</body></html>"
    )


def render_markdown(fig: Figures, snapshot: str) -> str:
    lines = [
        ("# INVENTED SAMPLE DATA (toll run --demo): " if fig.invented else "# ")
        + f"toll report: snapshot `{snapshot}`, data to {fig.as_of}",
        "",
        "| period | named deaths | estimate range | deadliest day | deadliest week | km² | state |",
        "|---|---:|---:|---|---|---:|---|",
    ]
    for r in yearly_rows(fig):
        state = r.get("period_state") or "–"
        estimate = _range(r["estimate_low"], r["estimate_high"])
        if state != "complete":
            # a range built on a count still growing is a floor, said where it is read
            estimate += " (floor: count still growing)"
        lines.append(
            f"| {PERIOD_NAMES[r['period_type']]} {r['period']} | "
            f"{_n(r['named_deaths'])} | {estimate} | {r['deadliest_day']} "
            f"({_n(r['deadliest_day_deaths'])}) | {r['deadliest_iso_week']} "
            f"({_n(r['deadliest_week_deaths'])}) | {_n(r['km2_gained'])} | {state} |"
        )
    whole = fig.yearly.filter(pl.col("period_type") == "whole_war").to_dicts()
    if whole:
        w = whole[0]
        lines += [
            "",
            f"With Donetsk/Luhansk forces ({_n(w['dnr_lnr_addon_low'])}–"
            f"{_n(w['dnr_lnr_addon_high'])}) beside the named-based range: up to "
            f"{_n(w['total_with_addon_high'])}.",
        ]
    scores = backtest_scores(fig.nowcast_scores)
    if scores["cutoffs"]:
        lines += [
            "",
            f"Nowcast back-test over {scores['cutoffs']} cut-offs (lags 5-25 weeks, against the "
            "count in the first vintage at least 26 weeks after each cut-off): window-total mean "
            f"absolute error {scores['window_total_mean_abs_error']:.1%}, bias "
            f"{scores['window_total_bias']:+.1%} (published counts alone "
            f"{scores['published_window_total_mean_abs_error']:.1%}); the 80% band held "
            f"{scores['band_coverage']:.1%} of weeks ({scores['share_below_band']:.1%} below, "
            f"{scores['share_above_band']:.1%} above).",
        ]
    steps = fig.vintage_steps
    if steps is not None and steps.height:
        flagged = steps.filter(pl.col("batch_flag"))
        lines += [
            "",
            f"Batches of old names: {flagged.height} of {steps.height} Mediazona vintage steps "
            "added names over 3 times as fast as usual"
            + (
                f" (latest: {flagged['as_of'][-1]}, {_n(flagged['names_added'][-1])} names, "
                f"{flagged['old_share'][-1]:.0%} for deaths at least 26 weeks old)."
                if flagged.height
                else "."
            ),
        ]
    lines += [
        "",
        "State: complete when the period ended over provisional_weeks "
        f"({(fig.settings or {}).get('provisional_weeks', 112)}) weeks before the data cut-off; "
        "provisional while names for it still arrive; partial when it was not over at the "
        "cut-off. Publish a provisional or partial figure only with its state.",
        "",
        method_paragraph(fig),
    ]
    return "\n".join(lines)
