"""A failed run POSTs an alert (run name, failed step or gate, message) to the configured webhook;
tested against an HTTP server on 127.0.0.1."""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers.toll_testing import copy_warehouse

from flows.config import load_settings
from flows.nightly import nightly
from flows.s4_gate import suites as gate
from flows.warehouse.snapshots import current_snapshot


@pytest.fixture()
def webhook():
    """A local webhook that records every JSON body it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def _failing_gate(folder, monkeypatch) -> None:
    shutil.copytree(gate.EXPECTATIONS_DIR, folder)
    suite = json.loads((folder / "fct_weekly_losses.json").read_text())
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "named_deaths", "max_value": 1},
            "meta": {"severity": "error"},
        }
    )
    (folder / "fct_weekly_losses.json").write_text(json.dumps(suite))
    monkeypatch.setattr(gate.load_suites, "__defaults__", (folder,))


def test_a_failed_gate_alerts_the_webhook_with_run_and_gate(
    demo_baseline, tmp_path, monkeypatch, webhook
):
    url, received = webhook
    sources, baseline = demo_baseline
    warehouse = copy_warehouse(baseline, tmp_path / "warehouse")
    before = current_snapshot(warehouse)
    settings = load_settings(
        source_dir=sources, warehouse=warehouse, verify_checksums=False, alert_webhook=url
    )
    _failing_gate(tmp_path / "expectations", monkeypatch)

    state = nightly(settings=settings, rebuild=True, return_state=True)
    assert state.is_failed()
    assert "quality gate failed" in state.message
    assert "fct_weekly_losses.named_deaths" in state.message
    assert current_snapshot(warehouse) == before

    assert len(received) == 1
    alert = received[0]
    assert alert["run_name"].startswith("nightly-")
    assert alert["run_id"] == str(state.state_details.flow_run_id)
    assert alert["failed_step"] == "validate (quality gate)"
    assert "fct_weekly_losses.named_deaths" in alert["message"]
    assert alert["text"].startswith(f"toll run {alert['run_name']} failed at validate")


def test_a_failed_fetch_names_the_task_and_a_dead_webhook_is_no_second_failure(tmp_path, webhook):
    url, received = webhook
    settings = load_settings(
        source_dir=tmp_path / "empty", warehouse=tmp_path / "wh", alert_webhook=url
    )
    state = nightly(settings=settings, return_state=True)
    assert state.is_failed()
    assert received and received[0]["failed_step"].startswith("fetch-")
    assert "cannot fetch" in received[0]["message"]

    # nobody listens on the webhook: the run fails for its own reason, the alert error is logged
    dead = settings.model_copy(update={"alert_webhook": "http://127.0.0.1:9/hook"})
    again = nightly(settings=dead, return_state=True)
    assert again.is_failed() and "cannot fetch" in again.message
