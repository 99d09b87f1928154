"""Helpers for the daemon tests: a daemon on free ports around the real engine and the toy
bundle (tests/engine_helpers.py: a tiny model trained to write valid two-voice 3/4 bars), and
small HTTP / OSC (UDP and TCP) clients built on the standard library and python-osc."""
from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import time
from typing import Any, Iterator

from pythonosc import slip
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg


@contextlib.contextmanager
def running_daemon(bundle: Any, **options: Any) -> Iterator[Any]:
    """A started Daemon on the real Engine loaded from `bundle`, every door on a free port."""
    from notabridge.daemon.app import Daemon, ServeOptions
    from notabridge.engine import Engine

    engine = Engine(bundle, device="cpu")
    opts = dict(http_port=0, osc_port=0, osc_tcp_port=0)
    opts.update(options)
    daemon = Daemon(engine, ServeOptions(**opts), say=lambda line: None)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def http_request(daemon: Any, method: str, path: str, body: Any = None, headers: dict | None = None,
                 raw: bytes | None = None, timeout: float = 30) -> tuple[int, Any]:
    host, port = daemon.http.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    conn.request(method, path, body=data, headers=headers or {})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, json.loads(payload) if payload else None


def wait_for_job(daemon: Any, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = http_request(daemon, "GET", f"/jobs/{job_id}")
        assert status == 200, body
        if body["status"] in ("done", "error", "cancelled"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


class OscUdpClient:
    """One UDP socket that sends requests and receives the replies on the same port."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def send(self, address: str, *args: Any) -> None:
        self.sock.sendto(build_msg(address, list(args)).dgram, self.target)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def receive(self, address: str | None = None, timeout: float = 30) -> tuple[str, list, int]:
        """The next message (for `address`, skipping others); returns (address, args, datagram size)."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            message = OscMessage(data)
            if address is None or message.address == address:
                return message.address, list(message.params), len(data)

    def close(self) -> None:
        self.sock.close()


class OscTcpClient:
    """An OSC-over-TCP connection, SLIP framed (OSC 1.1) or size-prefixed (OSC 1.0)."""

    def __init__(self, port: int, slip_framing: bool = True, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.slip = slip_framing
        self._buffer = b""

    def send(self, address: str, *args: Any) -> None:
        data = build_msg(address, list(args)).dgram
        self.sock.sendall(slip.encode(data) if self.slip else struct.pack("!I", len(data)) + data)

    def _frame(self) -> bytes:
        while True:
            if self.slip:
                stripped = self._buffer.lstrip(slip.END)
                end = stripped.find(slip.END)
                if end > 0:
                    self._buffer = stripped[end + 1:]
                    return slip.decode(slip.END + stripped[:end] + slip.END)
            elif len(self._buffer) >= 4:
                (size,) = struct.unpack("!I", self._buffer[:4])
                if len(self._buffer) >= 4 + size:
                    frame, self._buffer = self._buffer[4:4 + size], self._buffer[4 + size:]
                    return frame
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            self._buffer += chunk

    def receive(self, address: str | None = None, timeout: float = 30) -> tuple[str, list]:
        self.sock.settimeout(timeout)
        while True:
            message = OscMessage(self._frame())
            if address is None or message.address == address:
                return message.address, list(message.params)

    def close(self) -> None:
        self.sock.close()


def toy_excerpt(measures: int = 2) -> dict:
    """Two staves in 3/4, G major, in the style the toy model of tests/engine_helpers.py learnt
    (upper: quarters or a dotted half; lower: a dotted half)."""
    upper = [[(67, 15), (69, 17), (71, 19)], [(74, 16)]]
    lower = [[(43, 15)], [(50, 16)]]

    def voice(notes: list) -> dict:
        length = "1/4" if len(notes) == 3 else "3/4"
        return {"voice": 0, "events": [{"type": "chord", "duration": length,
                                        "notes": [{"pitch": p, "tpc": t, "tie": None}]} for p, t in notes]}

    out_measures = [{"index": i, "number": i + 1, "time": "3/4", "key": 1,
                     "staves": [{"staff": 0, "voices": [voice(upper[i % 2])]},
                                {"staff": 1, "voices": [voice(lower[i % 2])]}]} for i in range(measures)]
    return {"format": "notabridge-excerpt", "version": 1, "title": "Toy",
            "parts": [{"id": "P1", "name": "Upper", "staves": [0]}, {"id": "P2", "name": "Lower", "staves": [1]}],
            "staves": [{"index": 0, "part": "P1", "clef": "treble"}, {"index": 1, "part": "P2", "clef": "bass"}],
            "measures": out_measures, "selection": {"start": 0, "end": measures, "staves": [0, 1]}, "warnings": []}


def health_within_one_second(daemon: Any) -> None:
    """Both doors answer /health (HTTP and OSC over UDP) within one second, together."""
    start = time.monotonic()
    status, body = http_request(daemon, "GET", "/health", timeout=1)
    assert status == 200 and body["ok"] is True
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    try:
        client.send("/notabridge/health")
        assert json.loads(client.receive("/notabridge/health", timeout=1)[1][0])["ok"] is True
    finally:
        client.close()
    assert time.monotonic() - start < 1.0, "the daemon took more than 1 s to answer /health"
