"""Each input that once hung, looped, stalled or crashed the daemon (issue 15), sent by itself to
a real daemon (real engine, toy bundle): the daemon answers a clear error or drops it, and keeps
answering /health at once."""
from __future__ import annotations

import json
import logging
import os
import socket
import struct
import time

import pytest
from pythonosc import slip

from tests.daemon_helpers import daemon_bundle, OscTcpClient, OscUdpClient, http_request, running_daemon  # noqa: F401 (fixture)

P = "/notabridge/"
# an OSC bundle whose element size is -8: python-osc's parser loops on it for ever (docs/osc.md)
NEGATIVE_BUNDLE = b"#bundle\x00" + bytes(8) + b"\xff\xff\xff\xf8" + b"/notabridge/nope\x00\x00\x00\x00" + b",\x00\x00\x00"


@pytest.fixture(scope="module")
def daemon(daemon_bundle):
    with running_daemon(daemon_bundle) as d:
        yield d


def _health_within_one_second(daemon) -> None:
    start = time.monotonic()
    status, body = http_request(daemon, "GET", "/health", timeout=1)
    assert status == 200 and body["ok"] is True
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    try:
        client.send(P + "health")
        assert json.loads(client.receive(P + "health", timeout=1)[1][0])["ok"] is True
    finally:
        client.close()
    assert time.monotonic() - start < 1.0


def _cpu_seconds_while_idle(seconds: float = 1.0) -> float:
    """CPU time this process (the test and the daemon's threads) uses while the test sleeps."""
    before = os.times()
    time.sleep(seconds)
    after = os.times()
    return (after.user - before.user) + (after.system - before.system)


def test_the_python_osc_hang_datagram_is_dropped_over_udp(daemon):
    assert len(NEGATIVE_BUNDLE) == 44
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    client.send_raw(NEGATIVE_BUNDLE)
    client.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):   # dropped: no answer
        client.sock.recv(65536)
    client.close()
    _health_within_one_second(daemon)
    assert _cpu_seconds_while_idle() < 0.5   # nothing spins


@pytest.mark.parametrize("framing", ["slip", "size"])
def test_the_python_osc_hang_datagram_is_dropped_over_tcp(daemon, framing):
    client = OscTcpClient(daemon.osc_tcp.server_address[1], slip_framing=framing == "slip")
    frame = slip.encode(NEGATIVE_BUNDLE) if framing == "slip" else struct.pack("!I", len(NEGATIVE_BUNDLE)) + NEGATIVE_BUNDLE
    client.sock.sendall(frame)
    client.send(P + "health")   # the same connection keeps working after the dropped packet
    assert json.loads(client.receive(P + "health", timeout=1)[1][0])["ok"] is True
    client.close()
    _health_within_one_second(daemon)
    assert _cpu_seconds_while_idle() < 0.5


def test_a_flood_of_malformed_packets_logs_a_few_lines(daemon):
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    logger = logging.getLogger("notabridge.osc")
    logger.addHandler(handler)
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    try:
        for n in range(2000):
            client.send_raw(NEGATIVE_BUNDLE)
            if n % 100 == 99:
                time.sleep(0.01)   # paced: the daemon's socket buffer must not drop the health request
        client.send(P + "health")
        client.receive(P + "health", timeout=5)   # every datagram before it has been handled
    finally:
        logger.removeHandler(handler)
        client.close()
    dropped = [line for line in lines if "malformed OSC packet" in line]
    assert 1 <= len(dropped) <= 50, len(dropped)
    assert "element size -8" in dropped[0]


def test_a_reply_port_that_is_the_daemons_own_is_refused(daemon):
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    for own in (daemon.osc_udp.server_address[1], daemon.osc_tcp.server_address[1], daemon.http.server_address[1]):
        client.send(P + "health", own)
        address, args, _ = client.receive(timeout=2)
        assert address == P + "error" and f"reply port {own} is one of this daemon's own ports" in args[1]
    client.close()
    _health_within_one_second(daemon)
    assert _cpu_seconds_while_idle() < 0.5


def test_two_daemons_pointed_at_each_other_stop_after_one_error(daemon, daemon_bundle):
    with running_daemon(daemon_bundle) as other:
        other_port = other.osc_udp.server_address[1]
        client = OscUdpClient(daemon.osc_udp.server_address[1])
        # the first daemon answers /health to the second's port; the second must not answer with a reply
        for request in (("health",), ("hello",), ("settings/get",), ("job/status", "x"), ("nope",)):
            client.send(P + request[0], *request[1:], other_port)
        client.close()
        time.sleep(0.3)
        assert _cpu_seconds_while_idle() < 0.5
        _health_within_one_second(daemon)
        _health_within_one_second(other)


def test_one_peer_gets_at_most_the_reply_rate(daemon):
    from bridge.limits import LIMITS

    client = OscUdpClient(daemon.osc_udp.server_address[1])
    client.sock.settimeout(0)
    sent = answers = 0
    start = time.monotonic()
    while sent < 3000:   # paced so that no socket buffer overflows: only the limit drops anything
        for _ in range(50):
            client.send(P + "settings/get")
        sent += 50
        time.sleep(0.02)
        answers += _drain(client.sock)
    elapsed = time.monotonic() - start
    client.sock.settimeout(0.5)
    answers += _drain(client.sock)
    client.close()
    budget = LIMITS["reply_burst_per_peer"] + LIMITS["replies_per_second_per_peer"] * (elapsed + 0.5)
    assert LIMITS["reply_burst_per_peer"] <= answers <= budget < sent, (answers, budget, elapsed)
    _health_within_one_second(daemon)   # another peer is answered at once


def _drain(sock: socket.socket) -> int:
    n = 0
    try:
        while True:
            sock.recv(65536)
            n += 1
    except (BlockingIOError, socket.timeout):
        return n
