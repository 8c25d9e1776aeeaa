"""Every prefect.yaml entrypoint imports and names a Prefect flow."""

import importlib.util
from pathlib import Path

import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parents[2]


def test_entrypoints_import_as_flows():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = []
    for deployment in spec["deployments"]:
        path, func = deployment["entrypoint"].split(":")
        module_spec = importlib.util.spec_from_file_location("entry", ROOT / path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        assert isinstance(getattr(module, func), Flow)
        names.append(deployment["name"])
    assert "nightly" in names
    nightly = next(d for d in spec["deployments"] if d["name"] == "nightly")
    assert nightly["schedules"][0]["cron"] == "0 2 * * *"
    backfill = next(d for d in spec["deployments"] if d["name"] == "backfill")
    assert not backfill.get("schedules")
    assert all(d["work_pool"]["name"] == "toll" for d in spec["deployments"])


def test_backfill_parameters_are_start_and_end_dates():
    from flows.backfill import backfill

    schema = backfill.parameters.model_dump()
    assert schema["required"] == ["start", "end"]
    assert schema["properties"]["start"]["format"] == "date"


def test_every_deployment_sends_heartbeats_the_crash_automation_can_miss():
    from flows.ops.automations import HEARTBEAT_SECONDS

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in spec["deployments"]:
        env = deployment["work_pool"]["job_variables"]["env"]
        # under 30 s Prefect refuses to start the worker
        assert int(env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]) == HEARTBEAT_SECONDS >= 30
