"""The harness's phase times: wall time while a phase's calls run, counted once."""

import threading
import time

from bench import probe


def test_overlapping_and_nested_calls_count_their_wall_time_once(monkeypatch) -> None:
    monkeypatch.setattr(probe, "seconds", type(probe.seconds)(float))
    monkeypatch.setattr(probe, "calls", type(probe.calls)(int))

    def work(seconds: float, inner=None) -> None:
        time.sleep(seconds)
        if inner is not None:
            inner()

    timed = probe._timed("ingest", work)
    # 0-0.3 s on another thread; 0.1-0.45 s here, with a nested call: busy 0.45 s in all, though
    # the call that ends last began after the first (the sources are fetched side by side)
    first = threading.Thread(target=timed, args=(0.3,))
    started = time.perf_counter()
    first.start()
    time.sleep(0.1)
    timed(0.3, inner=lambda: timed(0.05))
    first.join()
    elapsed = time.perf_counter() - started
    assert probe.calls["ingest"] == 3
    assert 0.43 <= probe.seconds["ingest"] <= elapsed + 0.01
