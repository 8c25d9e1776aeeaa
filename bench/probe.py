"""Time spent in each kind of work inside a pipeline process, by wrapping the functions that do it.

Install before importing the flows: a module that does
`from flows.s4_gate.suites import run_gate` then gets the wrapped function. Names that do
not exist (yet) are skipped.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
import time
from collections import defaultdict

# (module, function, phase). Gate, geometry and backfill pieces change as other work lands;
# several candidate names are listed and the missing ones ignored.
PROBES = [
    ("flows.s2_ingest.collect", "ingest_source", "ingest"),
    ("flows.s3_build.runner", "build_models", "build"),
    ("flows.s4_gate.suites", "run_gate", "gate"),
    ("flows.s4_gate.suites", "validate", "gate"),
    ("flows.s5_publish.publish", "publish", "publish"),
    ("flows.s2_ingest.parsers.geometry", "occupied_area_km2", "geometry"),
    ("flows.s2_ingest.parsers.geometry", "snapshot_area", "geometry"),
    ("flows.s2_ingest.parsers.deepstate", "parse_map", "geometry"),
    ("flows.s2_ingest.parsers.deepstate", "parse_snapshot", "geometry"),
    ("flows.s2_ingest.parsers.deepstate", "occupied_area_km2", "geometry"),
    ("flows.s4_gate.gate", "run_quality_gate", "gate"),
    # many maps are measured in worker processes: time the pool from here, maps only
    ("flows.s2_ingest.parallel", "parse_many", "geometry"),
]
# phase -> which calls count, for functions shared by several kinds of work
ONLY_WHEN = {
    "flows.s2_ingest.parallel.parse_many": lambda args, kwargs: (
        kwargs.get("format_name", args[0] if args else None) == "deepstate_geojson"
    ),
}

seconds: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)
# A phase's time is the wall time while at least one of its calls runs: nested calls (a parser
# calling the area function) and calls on several threads at once (the sources are fetched side
# by side) count once. Per-thread depth counted only the call that ended with no other one
# running: with every source fetched at once, `ingest` read 0.0-0.7 s in runs whose fetch took
# 8-9 s (the last call to end was a small source's).
_running: dict[str, int] = defaultdict(int)
_since: dict[str, float] = {}
_lock = threading.Lock()


def _timed(phase: str, function, only_when=None):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if only_when is not None and not only_when(args, kwargs):
            return function(*args, **kwargs)
        with _lock:
            if _running[phase] == 0:
                _since[phase] = time.perf_counter()
            _running[phase] += 1
        try:
            return function(*args, **kwargs)
        finally:
            with _lock:
                _running[phase] -= 1
                if _running[phase] == 0:
                    seconds[phase] += time.perf_counter() - _since[phase]
                calls[phase] += 1

    wrapper.__probed__ = True
    return wrapper


def install() -> list[str]:
    """Wrap every probe that exists; returns the ones installed as `module.function`."""
    installed = []
    for module_name, name, phase in PROBES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        function = getattr(module, name, None)
        if function is None or getattr(function, "__probed__", False):
            continue
        only_when = ONLY_WHEN.get(f"{module_name}.{name}")
        wrapped = _timed(phase, function, only_when)
        setattr(module, name, wrapped)
        # modules imported earlier that did `from module import name` hold the original
        for other in list(sys.modules.values()):
            if getattr(other, "__name__", "").startswith("flows") and (
                getattr(other, name, None) is function
            ):
                setattr(other, name, wrapped)
        installed.append(f"{module_name}.{name}")
    return installed


def totals() -> dict[str, float]:
    return {phase: round(value, 3) for phase, value in seconds.items()}
