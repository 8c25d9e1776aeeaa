"""Which host a run ran on, for the run history (a tag `host:<name>/<address>`)."""

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
