"""Several "hosts" on this machine: network namespaces joined by a bridge (root only).

Each host is a namespace with a veth pair to a bridge that this helper creates; from inside a
namespace 127.0.0.1 is the namespace itself, so shared servers (Prefect, S3) bind the bridge's
address. Traffic goes only to the namespaces and bridge made here. Everything is deleted on
exit, also on failure; names carry a random tag so a leftover of a killed test never collides.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

# a private /24 used only between the namespaces and the bridge created here
SUBNET = "10.231.{net}"


@dataclass(frozen=True)
class Host:
    name: str  # the namespace
    address: str  # its address on the bridge
    home: Path  # its own HOME and temp folder: nothing shared on disk

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def env(self, base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        tmp = self.home / "tmp"
        env.update(HOME=str(self.home), TMPDIR=str(tmp), XDG_CACHE_HOME=str(self.home / ".cache"))
        env.update(extra)
        return env


@dataclass(frozen=True)
class Network:
    bridge: str
    gateway: str  # the bridge's own address: where shared servers listen
    hosts: list[Host]


def available() -> str | None:
    """Why several hosts cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "`ip netns` is not available"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextmanager
def hosts(count: int, root: Path, net: int = 0) -> Iterator[Network]:
    """`count` namespaces h<tag>-1.. on a new bridge 10.231.<net>.1/24; removed on exit."""
    tag = secrets.token_hex(3)
    bridge = f"tb{tag}"
    prefix = SUBNET.format(net=net)
    gateway = f"{prefix}.1"
    with ExitStack() as cleanup:
        _ip("link", "add", bridge, "type", "bridge")
        cleanup.callback(_quiet, "link", "del", bridge)
        _ip("addr", "add", f"{gateway}/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        made = []
        for number in range(1, count + 1):
            name = f"h{tag}-{number}"
            outside, inside = f"v{tag}{number}o", f"v{tag}{number}i"
            _ip("netns", "add", name)
            cleanup.callback(_quiet, "netns", "del", name)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            cleanup.callback(_quiet, "link", "del", outside)  # removes its peer too
            _ip("link", "set", outside, "master", bridge)
            _ip("link", "set", outside, "up")
            _ip("link", "set", inside, "netns", name)
            address = f"{prefix}.{10 + number}"
            _ip("-n", name, "addr", "add", f"{address}/24", "dev", inside)
            _ip("-n", name, "link", "set", inside, "up")
            _ip("-n", name, "link", "set", "lo", "up")
            home = root / name
            (home / "tmp").mkdir(parents=True)
            made.append(Host(name, address, home))
        yield Network(bridge, gateway, made)


def _quiet(*args: str) -> None:
    # teardown: a step that fails (already gone) must not hide the others or the test's error
    subprocess.run(["ip", *args], capture_output=True, timeout=10)
