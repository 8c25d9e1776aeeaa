import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# toll's caches outside a warehouse (traced column lineage, the object-storage mirror): one
# folder per test session, so no test reads what an earlier session or a real run left there
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="toll-test-cache-")

SHARED_DATA = Path(
    os.environ.get("TOLL_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """../shared/data; under CI its absence is a failure, elsewhere a clear skip."""
    if not (SHARED_DATA / "SHA256SUMS").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"real data not found at {SHARED_DATA} (set TOLL_TEST_DATA)")
        pytest.skip(f"real data not found at {SHARED_DATA} (set TOLL_TEST_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def demo_baseline(tmp_path_factory):
    """Generated sample sources and a warehouse with one published snapshot (copy, don't edit)."""
    from flows.config import load_settings
    from flows.nightly import nightly
    from flows.s1_sources.samples import write_sample_sources

    root = tmp_path_factory.mktemp("baseline")
    sources = write_sample_sources(root / "sources")
    warehouse = root / "warehouse"
    nightly(settings=load_settings(source_dir=sources, warehouse=warehouse, verify_checksums=False))
    return sources, warehouse
