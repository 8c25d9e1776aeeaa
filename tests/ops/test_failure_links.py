"""The `toll-gate-failures` artifact links each file by a URL a browser opens."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.runtime import flow_run

from flows.pipeline.tasks import failures_artifact
from flows.s4_gate.failures import FailureFile
from flows.warehouse.layout import Warehouse
from flows.warehouse.storage import LocalStorage


class Bucket:
    """Stands in for S3Storage.presigned: the key is what matters here."""

    def presigned(self, key: str) -> str:
        return f"https://bucket.example/{key}?X-Amz-Signature=abc"


def _artifact(warehouse: Warehouse, path: Path) -> str:
    @flow
    def gate() -> str:
        failures_artifact([FailureFile("fct_x.too_big", "error", 7, path)], "run-1", warehouse)
        return str(flow_run.id)

    run_id = gate()
    # filtered on the server: an unfiltered read_artifacts returns one page, which on the
    # suite's shared test server (hundreds of artifacts by now) missed this run's artifact
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["toll-gate-failures"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])),
        )
    return artifact.data


def test_on_object_storage_the_file_is_a_presigned_object(tmp_path) -> None:
    warehouse = Warehouse(LocalStorage(tmp_path))
    warehouse.remote = Bucket()
    path = tmp_path / "quarantine" / "run-1" / "gate-failures" / "fct_x.too_big.parquet"
    data = _artifact(warehouse, path)
    url = "https://bucket.example/quarantine/run-1/gate-failures/fct_x.too_big.parquet"
    assert f"| fct_x.too_big | error | 7 | [fct_x.too_big.parquet]({url}?X-Amz" in data
    assert "file://" not in data


def test_on_a_local_warehouse_the_file_is_a_file_url(tmp_path) -> None:
    path = tmp_path / "quarantine" / "run-1" / "gate-failures" / "fct_x.too_big.parquet"
    assert f"({path.as_uri()})" in _artifact(Warehouse(LocalStorage(tmp_path)), path)
