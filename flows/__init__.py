"""toll: weekly and regional fact tables of Russian military losses from public sources."""

import os

# Offline machines (like many newsroom laptops): Prefect telemetry must never block a run.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

__version__ = "0.1.0"
