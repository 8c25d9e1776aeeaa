"""`python -m bench --spread` without servers: the option parses, the figures come out of the
server's run records, and the table renders (the measurement itself is in bench/README.md)."""

from bench.harness import build_parser
from bench.spread import compare, print_spread, summarise


def _run(name: str, start: str, end: str, host: str, state: str = "COMPLETED") -> dict:
    return {
        "name": name,
        "state": {"type": state, "message": ""},
        "start_time": f"2026-12-04T09:{start}Z",
        "end_time": f"2026-12-04T09:{end}Z",
        "tags": ["toll", f"host:vm/{host}"],
    }


def test_spread_option_defaults_to_the_issues_map_count():
    args = build_parser().parse_args(["--spread"])
    assert (args.spread, args.spread_files, args.worker_limit, args.scales) == (1700, 100, 2, None)
    assert build_parser().parse_args(["--spread", "300"]).spread == 300


def test_figures_from_the_run_records():
    nightly = _run("nightly", "00:00", "02:00.5", "10.0.0.12")
    parts = [
        _run("p1", "00:04", "00:30", "10.0.0.11"),
        _run("p2", "00:05", "01:40", "10.0.0.12"),
        _run("p3", "00:40", "01:00", "10.0.0.11"),
    ]
    figures = summarise(nightly, parts)
    assert figures["status"] == "ok"
    assert (figures["run_s"], figures["ingest_s"], figures["first_part_after_s"]) == (
        120.5,
        100.0,
        4.0,
    )
    assert figures["parts_per_host"] == {"vm/10.0.0.11": 2, "vm/10.0.0.12": 1}
    assert figures["nightly_host"] == "vm/10.0.0.12"

    parts[1]["state"]["type"] = "CRASHED"
    assert summarise(nightly, parts)["problems"] == ["p2 CRASHED"]
    assert summarise(nightly, [])["status"] == "failed"  # no parts: nothing was spread


def test_ratios_identity_and_table(capsys):
    one = {"status": "ok", "wall_s": 200.0, "run_s": 190.0, "ingest_s": 160.0, "parts": 17}
    two = {**one, "wall_s": 130.0, "run_s": 120.0, "ingest_s": 100.0}
    for run, hosts in ((one, {"vm/a": 17}), (two, {"vm/a": 11, "vm/b": 6})):
        run.update(parts_per_host=hosts, nightly_host="vm/a", load_1m_before=1.5)
    tables = {"fct_weekly_losses.parquet": "aa", "dim_region.parquet": "bb"}
    measured = {"maps": 1700, "ingest_spread_files": 100, "worker_limit": 2, "runs": {}}
    measured["runs"] = {"1": one, "2": two}
    measured.update(compare(measured["runs"], {1: tables, 2: dict(tables)}))
    assert measured["ratios_two_to_one"] == {"wall_s": 0.65, "run_s": 0.63, "ingest_s": 0.62}
    assert measured["tables_identical"] is True

    print_spread(measured)
    out = capsys.readouterr().out
    assert "vm/a: 11, vm/b: 6" in out and "wall_s=0.65" in out and "IDENTICAL (2 tables)" in out

    changed = compare(measured["runs"], {1: tables, 2: {**tables, "dim_region.parquet": "cc"}})
    assert changed["tables_identical"] is False
    assert changed["tables_differing"] == ["dim_region.parquet"]
