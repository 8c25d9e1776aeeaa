"""toll: weekly and regional fact tables of Russian military losses from public sources.

The packages in data order: s1_sources -> s2_ingest -> s3_build -> s4_gate -> s5_publish ->
s6_report; `pipeline` runs them (nightly.py and backfill.py are its two flows), `warehouse` is
the storage layer they all go through, `lineage`, `ops` and `cli` serve the people reading and
running it.
"""

import os

# Offline machines (like many newsroom laptops): Prefect telemetry must never block a run.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

__version__ = "0.1.0"
