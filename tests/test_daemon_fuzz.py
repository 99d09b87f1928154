"""Property/fuzz tests (hypothesis) of the daemon's three network doors, each with more than
5,000 inputs in batches (noise, plausible and truncated requests, and every case of issue 15:
the python-osc hang bundle, reply ports that are the daemon's own, non-finite and 400-digit
numbers, deep nesting, wrong types, a 1000000/1 measure). After every batch the daemon answers
/health within 1 s; nothing answers 5xx or "internal error"; nothing is ever sent to one of the
daemon's own ports; afterwards the process is idle within 2 s and its memory grew < 150 MB.
Real engine, toy bundle, a daemon of its own."""
from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc import slip
from pythonosc.osc_message_builder import build_msg

from tests.daemon_helpers import OscUdpClient, health_within_one_second, http_request, toy_excerpt

P = "/notabridge/"
DAEMON_OPTIONS = {"max_queued": 64}   # conftest.daemon: room for the many jobs below
SEEDS = 5                # inputs hypothesis draws per batch ...
MUTANTS = 4              # ... each sent as drawn and as this many byte-level mutants
BATCH = SEEDS * (1 + MUTANTS)
BATCHES = 204            # 204 x 25 = 5,100 inputs per door
FUZZ = settings(max_examples=BATCHES, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
ADDRESSES = ["hello", "health", "prompts/get", "settings/get", "settings/set", "settings/subscribe",
             "settings/unsubscribe", "subscribe", "job/submit", "job/cancel", "job/status", "job/result/get",
             "midi/record/start", "settings/temperature", "settings/prompt", "settings/seed", "settings/bars",
             "error", "capabilities", "settings", "job/result", "nope"]
NEGATIVE_BUNDLE = b"#bundle\x00" + bytes(8) + b"\xff\xff\xff\xf8" + b"/notabridge/nope\x00\x00\x00\x00,\x00\x00\x00"
BAD_NUMBERS = ["1e999", "-1e999", "Infinity", "NaN", "1" * 400, "[[[[[[[[[[1]]]]]]]]]]"]
NUMERIC = ["bars", "variants", "top_k", "seed", "temperature", "top_p"]

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)
# always with some excerpt: a fuzzed job is never valid, so none of them occupies the worker
job_like = st.fixed_dictionaries({"mode": st.sampled_from(["continue", "infill", "accompany", "generate", "x"]),
                                  "excerpt": json_values.filter(lambda v: v is not None)},
                                 optional={"bars": json_values, "variants": json_values,
                                           "settings": json_values, "staves": json_values, "prompt": json_values})


def _million_meter_job() -> str:
    excerpt = toy_excerpt(1)
    excerpt["measures"][0]["time"] = "1000000/1"
    for staff in excerpt["measures"][0]["staves"]:
        staff["voices"][0]["events"] = [{"type": "rest", "duration": "1000000/1"}]
    return json.dumps({"mode": "continue", "excerpt": excerpt, "bars": 1})


def _toy_job_with(field: str, raw: str) -> str:
    return json.dumps({"mode": "continue", "excerpt": toy_excerpt(1)})[:-1] + f', "{field}": {raw}}}'


# the issue's cases as JSON texts (raw, so that 1e999 and 400-digit integers reach the parser)
issue_jobs = st.one_of(
    st.just(_million_meter_job()),
    st.builds(lambda f, raw: _toy_job_with("settings", f'{{"{f}": {raw}}}'), st.sampled_from(NUMERIC), st.sampled_from(BAD_NUMBERS)),
    st.builds(_toy_job_with, st.sampled_from(["settings", "bars", "staves", "time", "key", "mode"]),
              st.sampled_from(["[]", '""', "0", "false", "1e999", "NaN"])),
    st.integers(41, 3000).map(lambda depth: "[" * depth + "]" * depth),
)
issue_settings = st.builds(lambda f, raw: f'{{"{f}": {raw}}}', st.sampled_from(NUMERIC), st.sampled_from(BAD_NUMBERS))
# python-osc's builder re-parses what it built, so the strings it is given carry no NUL
osc_args = st.lists(st.one_of(st.integers(-2**31, 2**31 - 1), st.floats(width=32, allow_nan=True),
                              st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),
                              json_values.map(json.dumps), job_like.map(json.dumps), issue_jobs, issue_settings,
                              st.binary(min_size=1, max_size=40)), max_size=5)


def _mutants(seeds: list[bytes], rnd) -> list[bytes]:
    """Each input as drawn, then MUTANTS variations of it (cut, a byte changed, bytes inserted,
    a piece repeated): drawing 5 inputs and mutating them costs a fifth of drawing 25."""
    out = []
    for data in seeds:
        out.append(data)
        for _ in range(MUTANTS):
            kind, at = rnd.randrange(4), rnd.randrange(len(data) + 1)
            if kind == 0:
                out.append(data[:at])
            elif kind == 1 and data:
                at = min(at, len(data) - 1)
                out.append(data[:at] + bytes([rnd.randrange(256)]) + data[at + 1:])
            elif kind == 2:
                out.append(data[:at] + rnd.randbytes(rnd.randrange(1, 9)) + data[at:])
            else:
                out.append(data[:at] + data[at:at + rnd.randrange(1, 64)] * rnd.randrange(2, 5) + data[at:])
    return out


def _osc_message(address: str, args: list) -> bytes:
    return build_msg(address, args).dgram


def osc_packets(own_ports: list[int]):
    """Any OSC packet: noise, plausible requests (some naming one of the daemon's ports as the
    reply port), truncated ones, broken bundles, the python-osc hang bundle."""
    return st.one_of(
        st.binary(max_size=300),
        st.builds(_osc_message, st.sampled_from(ADDRESSES).map(lambda a: P + a), osc_args),
        st.builds(lambda a, args, port: _osc_message(P + a, [*args, port]), st.sampled_from(ADDRESSES),
                  st.lists(st.text(max_size=5), max_size=1), st.sampled_from(own_ports)),
        st.builds(lambda data, cut: data[:cut], st.builds(_osc_message, st.just(P + "hello"), osc_args), st.integers(0, 40)),
        st.builds(lambda body: b"#bundle\x00" + b"\x00" * 8 + body, st.binary(max_size=100)),
        st.builds(lambda n, inner: b"#bundle\x00" + bytes(8) + struct.pack(">i", n) + inner,
                  st.integers(-2**31, 2**31 - 1), st.binary(max_size=40)),
        st.just(NEGATIVE_BUNDLE),
    )


class OwnPortWatch:
    """UDP sockets on the port numbers of the daemon's HTTP and TCP doors (a separate port space
    from TCP): any datagram arriving there is a reply sent to one of the daemon's own ports. The
    daemon's own UDP port is watched by its router, which counts datagrams from its own port."""

    def __init__(self, daemon) -> None:
        self.sockets = []
        for port in (daemon.http.server_address[1], daemon.osc_tcp.server_address[1]):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:   # taken by something else: that port is not watched
                sock.close()
                continue
            sock.setblocking(False)
            self.sockets.append(sock)

    def received(self) -> int:
        n = 0
        for sock in self.sockets:
            try:
                while True:
                    sock.recv(65536)
                    n += 1
            except BlockingIOError:
                pass
        return n

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def _idle_and_small(daemon, rss_before: float) -> None:
    deadline = time.monotonic() + 2.0
    while True:   # idle within 2 s: under 0.3 s of CPU in a 0.5 s window (the worker and every door)
        before = os.times()
        time.sleep(0.5)
        after = os.times()
        busy = (after.user - before.user) + (after.system - before.system)
        if busy < 0.3:
            break
        assert time.monotonic() < deadline, f"still busy 2 s after the fuzz ({busy:.2f} s CPU in 0.5 s)"
    assert _rss_mb() - rss_before < 150
    assert daemon.router.counts["from_own_port"] == 0
    assert http_request(daemon, "GET", "/health")[1]["queue"] == 0   # no fuzzed job was accepted


def _run_osc_fuzz(daemon, send, watch: "OwnPortWatch", rss: float, sent: Counter, replies: list[bytes]) -> None:
    """Run an OSC fuzz loop, then what every OSC door must show after it: no reply sent to one of
    the daemon's own ports, 5000 inputs at least, no internal error, idle and small again."""
    try:
        send()
        assert watch.received() == 0, "a reply went to one of the daemon's own ports"
    finally:
        watch.close()
    assert sent["inputs"] >= 5000
    assert not [r for r in replies if b"internal error" in r]
    _idle_and_small(daemon, rss)


def _own_ports(daemon) -> list[int]:
    return [daemon.http.server_address[1], daemon.osc_udp.server_address[1], daemon.osc_tcp.server_address[1]]


def test_osc_udp_fuzz(daemon):
    watch, rss, sent, answers = OwnPortWatch(daemon), _rss_mb(), Counter(), []

    @FUZZ
    @given(seeds=st.lists(osc_packets(_own_ports(daemon)), min_size=SEEDS, max_size=SEEDS), rnd=st.randoms())
    def send(seeds, rnd):
        batch = _mutants(seeds, rnd)
        client = OscUdpClient(daemon.osc_udp.server_address[1])   # a new peer each batch: the rate limit is per peer
        for packet in batch:
            client.send_raw(packet)
        sent["inputs"] += len(batch)
        health_within_one_second(daemon)
        # every answer to the batch, late ones included: the daemon answers one peer's packets in
        # order, so they all come before its answer to a last request from the same socket (an
        # error naming a job id no fuzzed packet holds)
        marker = f"end-of-batch-{sent['inputs']}"
        client.send(P + "job/status", marker)
        deadline = time.monotonic() + 5
        while True:
            assert time.monotonic() < deadline, "the batch's sender got no answer to its last request"
            client.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = client.sock.recv(65536)
            except socket.timeout:
                continue
            if marker.encode() in data:
                break
            answers.append(data)
        client.close()

    _run_osc_fuzz(daemon, send, watch, rss, sent, answers)


def test_osc_tcp_fuzz(daemon):
    port = daemon.osc_tcp.server_address[1]
    watch, rss, sent = OwnPortWatch(daemon), _rss_mb(), Counter()
    replies: list[bytes] = []

    @FUZZ
    @given(seeds=st.lists(osc_packets(_own_ports(daemon)), min_size=SEEDS, max_size=SEEDS),
           framing=st.sampled_from(["slip", "size", "raw"]), rnd=st.randoms())
    def send(seeds, framing, rnd):
        packets = _mutants(seeds, rnd)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            try:
                for packet in packets:
                    if framing == "slip":
                        sock.sendall(slip.encode(packet))
                    elif framing == "size":
                        sock.sendall(struct.pack("!I", len(packet)) + packet)
                    else:
                        sock.sendall(packet)
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(1)
                while chunk := sock.recv(65536):   # the daemon answers what it can and closes
                    replies.append(chunk)
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass   # a stream it cannot frame is hung up on; a subscriber's connection stays open
        sent["inputs"] += len(packets)
        health_within_one_second(daemon)

    _run_osc_fuzz(daemon, send, watch, rss, sent, replies)


http_methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "GE T", ""])
http_paths = st.one_of(st.sampled_from(["/health", "/settings", "/jobs", "/jobs/1-abc", "/jobs/1-abc/result",
                                        "/jobs/x/cancel", "/capabilities", "/../../etc/passwd", "//", "/jobs?x=1"]),
                       st.text(max_size=30).map(lambda t: "/" + t))
http_headers = st.dictionaries(st.sampled_from(["Host", "Content-Length", "Content-Type", "Origin", "Transfer-Encoding", "X"]),
                               st.text(max_size=20), max_size=4)
http_bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                        job_like.map(lambda v: json.dumps(v).encode()), issue_jobs.map(str.encode),
                        issue_settings.map(str.encode))


def _raw_request(method: str, path: str, headers: dict, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\n".encode("utf-8", "replace")
    for name, value in headers.items():
        head += f"{name}: {value}\r\n".encode("utf-8", "replace")
    return head + b"\r\n" + body


def _well_formed(path: str, body: bytes) -> bytes:   # the issue's bodies, delivered as a client would
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


http_requests = st.one_of(
    st.builds(_raw_request, http_methods, http_paths, http_headers, http_bodies),
    st.binary(max_size=300),
    st.builds(_well_formed, st.sampled_from(["/jobs", "/settings"]), http_bodies),
)


def test_http_fuzz(daemon):
    host, port = daemon.http.server_address[:2]
    watch, rss, statuses = OwnPortWatch(daemon), _rss_mb(), Counter()
    lock = threading.Lock()

    def one(request: bytes) -> None:
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)   # no more bytes: the server must answer or close, not wait
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        code = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else None
        with lock:
            statuses[code] += 1
        assert answer == b"" or code is not None, answer[:80]
        assert code is None or code < 500, answer[:300]

    @FUZZ
    @given(seeds=st.lists(http_requests, min_size=SEEDS, max_size=SEEDS), rnd=st.randoms())
    def send(seeds, rnd):
        batch = _mutants(seeds, rnd)
        failures: list[BaseException] = []

        def guarded(request: bytes) -> None:
            try:
                one(request)
            except BaseException as exc:   # re-raised below: an assertion in a thread would vanish
                failures.append(exc)

        threads = [threading.Thread(target=guarded, args=(r,), daemon=True) for r in batch]   # a batch arrives at once
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not [t for t in threads if t.is_alive()], "an HTTP request got no answer within 30 s"
        if failures:
            raise failures[0]
        health_within_one_second(daemon)

    try:
        send()
        assert watch.received() == 0
    finally:
        watch.close()
    assert sum(statuses.values()) >= 5000
    assert sum(n for code, n in statuses.items() if code) > 2500   # most garbage is answered, not dropped
    _idle_and_small(daemon, rss)
