"""The daemon does not fall over, lose or duplicate jobs, or wedge: malformed input by the
thousand (hypothesis), many concurrent clients, clients that vanish mid-job. Real engine, toy bundle."""
from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pythonosc import slip
from pythonosc.osc_message_builder import build_msg

from tests.daemon_helpers import daemon_bundle, OscTcpClient, OscUdpClient, http_request, running_daemon, toy_excerpt  # noqa: F401 (fixture)

P = "/notabridge/"
ADDRESSES = ["hello", "health", "prompts/get", "settings/get", "settings/set", "settings/subscribe",
             "settings/unsubscribe", "subscribe", "job/submit", "job/cancel", "job/status", "job/result/get",
             "midi/record/start", "settings/temperature", "settings/prompt", "settings/seed", "nope"]
FUZZ = settings(max_examples=1000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)
# always with some excerpt: a fuzzed job is never valid, so none of them occupies the worker
job_like = st.fixed_dictionaries({"mode": st.sampled_from(["continue", "infill", "accompany", "generate", "x"]),
                                  "excerpt": json_values.filter(lambda v: v is not None)},
                                 optional={"bars": json_values, "variants": json_values,
                                           "settings": json_values, "staves": json_values, "prompt": json_values})
# python-osc's builder re-parses what it built, so the strings it is given carry no NUL
osc_args = st.lists(st.one_of(st.integers(-2**31, 2**31 - 1), st.floats(width=32, allow_nan=False),
                              st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40), json_values.map(json.dumps), job_like.map(json.dumps),
                              st.binary(min_size=1, max_size=40)), max_size=5)


def _osc_message(address: str, args: list) -> bytes:
    return build_msg(address, args).dgram


osc_packets = st.one_of(
    st.binary(max_size=300),                                                       # noise
    st.builds(_osc_message, st.sampled_from(ADDRESSES).map(lambda a: P + a), osc_args),   # plausible requests
    st.builds(lambda data, cut: data[:cut], st.builds(_osc_message, st.just(P + "hello"), osc_args),
              st.integers(0, 40)),                                                 # truncated
    st.builds(lambda body: b"#bundle\x00" + b"\x00" * 8 + body, st.binary(max_size=100)),   # broken bundles
)


@pytest.fixture(scope="module")
def daemon(daemon_bundle):
    with running_daemon(daemon_bundle, max_queued=64) as d:
        yield d


def _reset_settings(daemon) -> None:
    """The fuzzers may have turned any knob; jobs below start from the defaults."""
    from notabridge.jobs.settings import default_settings
    assert http_request(daemon, "POST", "/settings", default_settings())[0] == 200


def _still_healthy(daemon) -> None:
    assert http_request(daemon, "GET", "/health")[1]["ok"] is True
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    client.send(P + "health")
    assert json.loads(client.receive(P + "health", timeout=10)[1][0])["ok"] is True
    client.close()


def test_malformed_osc_over_udp(daemon):
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    replies: list[bytes] = []

    @FUZZ
    @given(packet=osc_packets)
    def send(packet):
        client.send_raw(packet)
        client.sock.settimeout(0)
        try:
            while True:
                replies.append(client.sock.recv(65536))
        except OSError:
            pass

    send()
    time.sleep(0.2)
    assert not [r for r in replies if b"internal error" in r]   # every reply is a considered answer
    client.close()
    _still_healthy(daemon)


def test_malformed_osc_over_tcp(daemon):
    port = daemon.osc_tcp.server_address[1]

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(packets=st.lists(osc_packets, min_size=1, max_size=3), framing=st.sampled_from(["slip", "size", "raw"]))
    def send(packets, framing):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            try:
                for packet in packets:
                    if framing == "slip":
                        sock.sendall(slip.encode(packet))
                    elif framing == "size":
                        sock.sendall(struct.pack("!I", len(packet)) + packet)
                    else:
                        sock.sendall(packet)
            except (BrokenPipeError, ConnectionResetError):
                pass   # the daemon hangs up on a stream it cannot frame (e.g. a size over the limit)

    send()
    _still_healthy(daemon)


http_methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "GE T", ""])
http_paths = st.one_of(st.sampled_from(["/health", "/settings", "/jobs", "/jobs/1-abc", "/jobs/1-abc/result",
                                        "/jobs/x/cancel", "/capabilities", "/../../etc/passwd", "//", "/jobs?x=1"]),
                       st.text(max_size=30).map(lambda t: "/" + t))
http_headers = st.dictionaries(st.sampled_from(["Host", "Content-Length", "Content-Type", "Origin", "Transfer-Encoding", "X"]),
                               st.text(max_size=20), max_size=4)
http_bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                        job_like.map(lambda v: json.dumps(v).encode()))


def _raw_request(method: str, path: str, headers: dict, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\n".encode("utf-8", "replace")
    for name, value in headers.items():
        head += f"{name}: {value}\r\n".encode("utf-8", "replace")
    return head + b"\r\n" + body


def test_malformed_http_requests(daemon):
    host, port = daemon.http.server_address[:2]
    statuses: Counter = Counter()

    @FUZZ
    @given(request=st.one_of(st.builds(_raw_request, http_methods, http_paths, http_headers, http_bodies),
                             st.binary(max_size=300)))
    def send(request):
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)   # no more bytes: the server must answer or close, not wait
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        if answer:
            assert answer.startswith(b"HTTP/1."), answer[:80]
            code = int(answer.split(b" ", 2)[1])
            statuses[code] += 1
            assert code != 500, answer

    send()
    assert sum(statuses.values()) > 500          # most garbage is answered, not dropped
    _still_healthy(daemon)


def test_fifty_jobs_from_five_concurrent_clients_each_end_once(daemon):
    _reset_settings(daemon)
    job = {"mode": "continue", "excerpt": toy_excerpt(), "bars": 1}
    ends: dict[str, Counter] = {}
    failures: list[str] = []

    def http_client(name: str) -> None:
        ids = []
        for n in range(10):
            status, body = http_request(daemon, "POST", "/jobs", {**job, "settings": {"seed": n}})
            assert status == 202, body
            ids.append(body["id"])
        counts = Counter()
        for job_id in ids:
            while (state := http_request(daemon, "GET", f"/jobs/{job_id}")[1]["status"]) not in ("done", "error", "cancelled"):
                time.sleep(0.05)
            counts[(job_id, state)] += 1
        ends[name] = counts

    def osc_client(name: str, make) -> None:
        client = make()
        for n in range(10):
            client.send(P + "job/submit", json.dumps({**job, "tag": str(n)}))
        ids, counts = set(), Counter()
        while len(ids) < 10 or sum(counts.values()) < 10:
            address, args = client.receive(timeout=60)[:2]
            if address == P + "job/queued":
                ids.add(args[0])
            elif address in (P + "job/result", P + "job/error", P + "job/cancelled"):
                counts[(args[0], address)] += 1
        # nothing more arrives for these jobs: no duplicates
        try:
            while True:
                address, args = client.receive(timeout=0.5)[:2]
                if address in (P + "job/result", P + "job/error", P + "job/cancelled"):
                    counts[(args[0], address)] += 1
        except (OSError, ConnectionError):
            pass
        assert set(job_id for job_id, _ in counts) == ids
        ends[name] = counts
        client.close()

    def guarded(target, *args):
        try:
            target(*args)
        except BaseException as exc:   # reported below; a thread's assertion would otherwise vanish
            failures.append(f"{args[0]}: {exc!r}")

    udp_port, tcp_port = daemon.osc_udp.server_address[1], daemon.osc_tcp.server_address[1]
    threads = [threading.Thread(target=guarded, args=(http_client, "http-1")),
               threading.Thread(target=guarded, args=(http_client, "http-2")),
               threading.Thread(target=guarded, args=(osc_client, "osc-udp", lambda: OscUdpClient(udp_port))),
               threading.Thread(target=guarded, args=(osc_client, "osc-tcp-slip", lambda: OscTcpClient(tcp_port, True))),
               threading.Thread(target=guarded, args=(osc_client, "osc-tcp-1.0", lambda: OscTcpClient(tcp_port, False)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not failures, failures
    assert len(ends) == 5
    all_ends = Counter()
    for counts in ends.values():
        assert len(counts) == 10 and set(counts.values()) == {1}, counts
        all_ends.update(job_id for job_id, _ in counts)
    assert len(all_ends) == 50
    assert http_request(daemon, "GET", "/health")[1]["queue"] == 0


def test_clients_that_vanish_mid_job_do_not_wedge_the_queue(daemon):
    _reset_settings(daemon)
    long_job = json.dumps({"mode": "generate", "bars": 4, "settings": {"seed": 2}})
    # a TCP client that submits and hangs up at once
    tcp = OscTcpClient(daemon.osc_tcp.server_address[1])
    tcp.send(P + "job/submit", long_job)
    tcp.receive(P + "job/queued")
    tcp.close()
    # a UDP client whose reply port is closed before the job ends
    gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gone.bind(("127.0.0.1", 0))
    gone_port = gone.getsockname()[1]
    gone.close()
    sender = OscUdpClient(daemon.osc_udp.server_address[1])
    sender.send(P + "job/submit", long_job, gone_port)
    # an HTTP client that starts a request and disappears half-way through the body
    host, port = daemon.http.server_address[:2]
    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n{\"mode\":")
    # a well-behaved client still gets its result
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    client.send(P + "job/submit", json.dumps({"mode": "continue", "excerpt": toy_excerpt(), "bars": 1}))
    address, args, _ = client.receive(P + "job/result", timeout=120)
    assert json.loads(args[1])["status"] == "done"
    deadline = time.monotonic() + 60
    while http_request(daemon, "GET", "/health")[1]["queue"]:
        assert time.monotonic() < deadline, "the queue did not drain"
        time.sleep(0.1)
    client.close()
    sender.close()
