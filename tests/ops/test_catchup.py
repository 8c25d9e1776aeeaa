"""Late scheduled nightly runs after an outage: superseded by a run that started later."""

from datetime import UTC, datetime, timedelta

from helpers.toll_testing import copy_warehouse

from flows.config import load_settings
from flows.nightly import nightly
from flows.ops.catchup import skip_message, superseded_by


def test_a_run_due_before_a_completed_run_started_is_superseded(demo_baseline, tmp_path):
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    before = datetime.now(UTC)
    state = nightly(
        settings=load_settings(source_dir=sources, warehouse=warehouse, verify_checksums=False),
        return_state=True,
    )
    assert state.is_completed()
    # nothing changed since the baseline: the run kept the snapshot, and says so
    assert state.message.startswith("nothing changed since snapshot")
    name = superseded_by(before - timedelta(days=1))
    assert name is not None and name.startswith("nightly-")
    assert superseded_by(datetime.now(UTC) + timedelta(hours=1)) is None
    message = skip_message(before - timedelta(days=1), name)
    assert message.startswith("skipped:") and name in message
