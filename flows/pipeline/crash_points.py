"""Named points in a run where a test can kill the process, to prove a crash loses nothing.

`TOLL_TEST_CRASH_AT=<point>` makes the process send itself SIGKILL when it reaches that point:
no cleanup handler, no `finally`, exactly like `kill -9` or a power cut of the process.
`TOLL_TEST_PAUSE_AT=<point>` makes it wait there instead (at most `PAUSE_SECONDS`), so that a
test can kill its whole host from outside while other runs wait. Unset (always, outside these
tests) each costs one environment lookup.
"""

from __future__ import annotations

import os
import signal
import time

CRASH_ENV = "TOLL_TEST_CRASH_AT"
PAUSE_ENV = "TOLL_TEST_PAUSE_AT"
PAUSE_SECONDS = 600  # bounded: a test that forgets its paused run does not hang CI for ever

# In run order; the crash tests kill a run at each of them.
POINTS = (
    "fetch",  # a fetch's raw files written under a temporary folder name, no manifest entry yet
    "staging",  # first staging view built in the work database
    "marts",  # first mart table built
    "validation",  # gate about to run
    "publish",  # snapshot files written to the temporary folder, not yet renamed
    "switch",  # snapshot folder renamed, `current` not yet switched to it
)


def crash_point(name: str) -> None:
    """SIGKILL this process if the crash test asked for `name`; wait there if asked to."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(PAUSE_ENV) == name:
        time.sleep(PAUSE_SECONDS)
