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
