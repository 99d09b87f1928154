"""liblo's oscsend and oscdump (an independent OSC implementation) talk to the daemon over UDP and
TCP: oscsend sends and exits, so the daemon's replies go to the port oscdump listens on."""
from __future__ import annotations

import json
import queue
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from tests.daemon_helpers import http_request, toy_excerpt

pytestmark = pytest.mark.skipif(not (shutil.which("oscsend") and shutil.which("oscdump")),
                                reason="liblo's oscsend/oscdump are not installed (Debian package liblo-tools)")
P = "/notabridge/"
_LINE = re.compile(r"^\S+ (/\S+) ?(\S*) ?(.*)$")   # time tag, address, types, arguments


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OscDump:
    """oscdump listening on a UDP port; its lines parsed back into (address, types, text)."""

    def __init__(self) -> None:
        self.port = _free_udp_port()
        self.proc = subprocess.Popen(["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True).start()
        time.sleep(0.2)

    def wait_for(self, address: str, timeout: float = 60) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"oscdump did not print {address} within {timeout} s") from None
            match = _LINE.match(line.strip())
            if match and match.group(1) == address:
                return match.group(2), match.group(3)

    def json_arg(self, address: str) -> dict:
        """The JSON in the last string argument of the next `address` message."""
        types, text = self.wait_for(address)
        return json.loads(_strings(text, len(types))[-1])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def _strings(text: str, count: int) -> list[str]:
    """oscdump prints string arguments in double quotes, unescaped, separated by spaces; only the
    last may contain '" "', so split at most count-1 times."""
    assert text.startswith('"') and text.endswith('"'), text
    return text[1:-1].split('" "', count - 1)


def oscsend(target: str, address: str, types: str = "", *values: object) -> None:
    args = ["oscsend", *target.split(), address] + ([types, *map(str, values)] if types else [])
    subprocess.run(args, check=True, timeout=10)


@pytest.fixture
def dump():
    d = OscDump()
    yield d
    d.close()


def test_hello_and_settings_over_udp(daemon, dump):
    udp = f"localhost {daemon.osc_udp.server_address[1]}"
    oscsend(udp, P + "hello", "i", dump.port)
    assert dump.json_arg(P + "capabilities")["model"]["name"] == "toy-two-voices"
    oscsend(udp, P + "subscribe", "i", dump.port)
    dump.wait_for(P + "queue")
    oscsend(udp, P + "settings/set", "sf", "temperature", 0.9)
    assert dump.json_arg(P + "settings")["temperature"] == 0.9
    assert http_request(daemon, "GET", "/settings")[1]["temperature"] == 0.9
    # a change made over HTTP reaches the liblo subscriber too
    http_request(daemon, "POST", "/settings", {"top_k": 3})
    assert dump.json_arg(P + "settings")["top_k"] == 3
    oscsend(udp, P + "unsubscribe", "i", dump.port)
    dump.wait_for(P + "unsubscribed")


def test_liblo_tcp_framing_is_understood(daemon, dump):
    tcp = f"osc.tcp://localhost:{daemon.osc_tcp.server_address[1]}"
    oscsend(tcp, P + "settings/set", "sf", "top_p", 0.7)
    # each oscsend is its own TCP connection, handled on its own thread: wait for the set to land
    deadline = time.monotonic() + 20
    while http_request(daemon, "GET", "/settings")[1]["top_p"] != 0.7:
        assert time.monotonic() < deadline, "the daemon never applied settings/set sent by liblo over TCP"
        time.sleep(0.05)
    oscsend(tcp, P + "settings/get", "i", dump.port)
    assert dump.json_arg(P + "settings")["top_p"] == 0.7


def test_job_from_oscsend_result_to_oscdump(daemon, dump):
    job = json.dumps({"mode": "continue", "excerpt": toy_excerpt(), "bars": 1, "tag": "liblo"})
    oscsend(f"localhost {daemon.osc_udp.server_address[1]}", P + "job/submit", "si", job, dump.port)
    types, text = dump.wait_for(P + "job/queued")
    assert types == "ss" and "liblo" in text
    types, text = dump.wait_for(P + "job/result")
    assert types == "ss"
    result = json.loads(_strings(text, 2)[1])
    assert result["status"] == "done"
    assert http_request(daemon, "GET", f"/jobs/{result['id']}/result")[0] == 200
