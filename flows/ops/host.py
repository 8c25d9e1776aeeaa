"""Where a run runs: its host, for the run history (a tag `host:<name>/<address>`), and its
deployment."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def this_host(api_url: str | None = None) -> str:
    """This host's name and the address it reaches the Prefect API (`PREFECT_API_URL` unless
    given) from.

    The name alone does not tell hosts apart when they share one (containers, network
    namespaces); the address does. A UDP `connect` sends nothing: it only picks the route."""
    if api_url is None:
        from prefect.settings import PREFECT_API_URL

        from flows.ops.local_api import TEMPORARY_URLS

        api_url = PREFECT_API_URL.value()
        if api_url in TEMPORARY_URLS:  # this process's own temporary server: no other host
            api_url = None
    name = socket.gethostname()
    target = urlsplit(api_url or "").hostname
    if not target:
        return name
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((target, 9))
            return f"{name}/{probe.getsockname()[0]}"
    except OSError:
        return name


def deployment_id() -> str | None:
    """The deployment this flow run belongs to, if any (None outside a flow run).

    Read from the run's context: `prefect.runtime.deployment.id` looks for it on the context
    object, misses it there and reads the flow run from the API each time (0.12 s of each
    nightly's start, on a temporary server)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    if run is None:
        return None
    return str(run.deployment_id) if run.deployment_id else None
