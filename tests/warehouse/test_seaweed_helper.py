"""The SeaweedFS test server starts on the ports it was given, or on fresh ones when a port it
picked was taken in the meantime (one CI run lost the several-hosts test to that race)."""

from __future__ import annotations

import socket

import httpx

from helpers import seaweed_s3


def test_no_picked_port_is_another_ports_grpc_port():
    # weed listens on port and port + 10000; a CI run picked master 28241 and volume 38241
    offered = _base_port_with_free_neighbours()
    ports = seaweed_s3._free_ports(2, candidates=iter([offered, offered + 10000, offered + 1]))
    assert ports == [offered, offered + 1]


def test_picked_ports_are_free_and_below_65536():
    ports = seaweed_s3._free_ports(5)
    assert len(set(ports)) == 5
    assert not {port + 10000 for port in ports} & set(ports)
    assert all(port + 10000 < 65536 for port in ports)


def _base_port_with_free_neighbours() -> int:
    # a port whose +1, +10000 and +10001 are free too, so only the rule under test can refuse one
    for port in range(20000, 30000, 7):
        if all(
            seaweed_s3._free(p, "127.0.0.1") for p in (port, port + 1, port + 10000, port + 10001)
        ):
            return port
    raise RuntimeError("no free base port in 20000-30000")


def test_a_port_taken_before_weed_binds_it_means_fresh_ports(monkeypatch):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    real = seaweed_s3._free_ports
    picks: list[list[int]] = []

    def first_pick_taken(count: int, ip: str = "127.0.0.1") -> list[int]:
        ports = real(count, ip)
        if not picks:
            ports[2] = taken  # the volume port, as in the CI run
        picks.append(ports)
        return ports

    monkeypatch.setattr(seaweed_s3, "_free_ports", first_pick_taken)
    try:
        with seaweed_s3.seaweed_server() as endpoint:
            assert httpx.get(endpoint, timeout=5).status_code < 500
            assert endpoint.endswith(f":{picks[-1][0]}")
    finally:
        holder.close()
    assert len(picks) == 2
