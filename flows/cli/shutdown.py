"""Leave a finished command without a last garbage collection of everything it imported."""

from __future__ import annotations

import atexit
import gc


def skip_collection_at_exit() -> None:
    """Freeze every live object when the interpreter starts shutting down.

    At exit, Python finalises each module and runs a full collection over the millions of
    objects Prefect, GX and the pipeline left alive (gdb: the time is in gc_collect_main under
    finalize_modules). A 100x run's process outlived its work by 2.6-3.0 s, by 0.4-0.5 s with
    the objects frozen (bench.step, wall time less time inside, 7 runs each). Frozen objects
    are never collected, harmless when the process is about to end; atexit handlers run before
    module finalisation, and this one, registered first, runs last."""
    atexit.register(gc.freeze)
