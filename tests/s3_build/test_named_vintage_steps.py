"""Per step between Mediazona vintages: names added per day, share for old deaths, batch flag."""

from datetime import date, timedelta

import duckdb

from flows.s3_build.models import discover, run_models

START = date(2024, 1, 1)


def _vintage(as_of: date, per_day: int, old_extra: int, padded_days: int) -> list[tuple]:
    """Rows of one vintage: `per_day` names a day, `old_extra` more on its first day of death."""
    rows = []
    days = (as_of - START).days
    for day in range(days + 1):
        padded = day > days - padded_days
        change = 0 if padded else per_day + (old_extra if day == 0 else 0)
        rows.append((day, START + timedelta(days=day), change, 0, padded, "sha", as_of))
    return rows


def test_steps_use_the_last_unpadded_day_and_flag_a_batch_of_old_names():
    con = duckdb.connect()
    con.execute(
        "create table raw_mediazona_daily (source_row bigint, date date, change bigint, "
        "total bigint, padded boolean, file_sha256 varchar, as_of date)"
    )
    vintages = [
        (date(2025, 1, 10), 0, 3),
        (date(2025, 1, 24), 0, 5),  # effective 2025-01-19: 14 days later than 2025-01-07
        (date(2025, 2, 7), 0, 5),
        (date(2025, 2, 21), 7000, 5),  # a batch: 7,000 names for a death a year old
    ]
    for as_of, old_extra, padded_days in vintages:
        rows = _vintage(as_of, 10, old_extra, padded_days)
        con.executemany("insert into raw_mediazona_daily values (?, ?, ?, ?, ?, ?, ?)", rows)
    models = discover()
    run_models(con, {n: models[n] for n in ("stg_mediazona_daily", "int_named_vintage_steps")})
    steps = con.sql(
        "select as_of, effective_date, step_days, names_added, old_share, batch_flag "
        "from int_named_vintage_steps order by as_of"
    ).fetchall()
    assert [s[0] for s in steps] == [v[0] for v in vintages[1:]]
    first = steps[0]
    assert first[1] == date(2025, 1, 19) and first[2] == 12  # 2025-01-07 -> 2025-01-19
    assert first[3] == 10 * 12 and first[4] == 0  # only new days: no old names
    assert [s[5] for s in steps] == [False, False, True]
    batch = steps[2]
    assert batch[3] == 7000 + 10 * 14 and abs(batch[4] - 7000 / 7140) < 1e-9


def _old_names_added(days: dict[date, dict[date, int | None]], as_of: date, before: date) -> int:
    """The definition: per day of the new vintage up to 182 days before its last unpadded
    day, its count less the previous vintage's count of that day (none: 0)."""
    bound = max(days[as_of]) - timedelta(days=182)  # no padding in these vintages
    return sum(
        (n or 0) - (days[before].get(day) or 0) for day, n in days[as_of].items() if day <= bound
    )


def test_old_names_added_with_and_without_gaps_in_the_vintages():
    """Gapless pairs are summed as ranges, others joined day by day: both give the definition."""
    first = date(2024, 1, 1)

    def vintage(last: int, gaps=(), start: int = 0, bump: int = 0) -> dict[date, int | None]:
        return {
            first + timedelta(days=d): (None if d == 3 else 2 + d % 5 + (bump if d < 40 else 0))
            for d in range(start, last + 1)
            if d not in gaps
        }

    as_ofs = [first + timedelta(days=n) for n in (300, 310, 320, 330, 340, 350)]
    days = {
        as_ofs[0]: vintage(300),
        as_ofs[1]: vintage(310, bump=3),  # gapless after gapless: ranges
        as_ofs[2]: vintage(320, gaps=(50, 51), bump=4),  # a gap in the new vintage
        as_ofs[3]: vintage(330, bump=6),  # a gap in the previous one
        as_ofs[4]: vintage(340, start=20, bump=7),  # starts later: the old days before drop out
        as_ofs[5]: vintage(350, start=10, bump=9),  # starts earlier than the previous one
    }
    con = duckdb.connect()
    con.execute(
        "create table raw_mediazona_daily (source_row bigint, date date, change bigint, "
        "total bigint, padded boolean, file_sha256 varchar, as_of date)"
    )
    rows = [
        (0, day, n, 0, False, "sha", as_of) for as_of, v in days.items() for day, n in v.items()
    ]
    con.executemany("insert into raw_mediazona_daily values (?, ?, ?, ?, ?, ?, ?)", rows)
    models = discover()
    run_models(con, {n: models[n] for n in ("stg_mediazona_daily", "int_named_vintage_steps")})
    got = dict(
        con.execute(
            "select as_of, old_names_added from int_named_vintage_steps order by as_of"
        ).fetchall()
    )
    want = {a: _old_names_added(days, a, b) for b, a in zip(as_ofs, as_ofs[1:], strict=False)}
    assert got == want
    assert all(v > 0 for v in want.values())  # every step adds old names here
