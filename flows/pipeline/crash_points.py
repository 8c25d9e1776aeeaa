"""Named points in a run where a test can kill the process, to prove a crash loses nothing.

`TOLL_TEST_CRASH_AT=<point>` makes the process send itself SIGKILL when it reaches that point:
no cleanup handler, no `finally`, exactly like `kill -9` or a power cut of the process. Unset
(always, outside the crash tests) it costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "TOLL_TEST_CRASH_AT"

# In run order; the crash tests kill a run at each of them.
POINTS = (
    "fetch",  # a raw file written, its manifest entry not yet
    "staging",  # first staging view built in the work database
    "marts",  # first mart table built
    "validation",  # gate about to run
    "publish",  # snapshot files written to the temporary folder, not yet renamed
    "switch",  # snapshot folder renamed, `current` not yet switched to it
)


def crash_point(name: str) -> None:
    """SIGKILL this process if the crash test asked for `name`."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
