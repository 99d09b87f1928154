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

from tests.daemon_helpers import OscTcpClient, OscUdpClient, health_within_one_second, http_request, running_daemon

P = "/notabridge/"
# an OSC bundle whose element size is -8: python-osc's parser loops on it for ever (docs/osc.md)
NEGATIVE_BUNDLE = b"#bundle\x00" + bytes(8) + b"\xff\xff\xff\xf8" + b"/notabridge/nope\x00\x00\x00\x00" + b",\x00\x00\x00"


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
    health_within_one_second(daemon)
    assert _cpu_seconds_while_idle() < 0.5   # nothing spins


@pytest.mark.parametrize("framing", ["slip", "size"])
def test_the_python_osc_hang_datagram_is_dropped_over_tcp(daemon, framing):
    client = OscTcpClient(daemon.osc_tcp.server_address[1], slip_framing=framing == "slip")
    frame = slip.encode(NEGATIVE_BUNDLE) if framing == "slip" else struct.pack("!I", len(NEGATIVE_BUNDLE)) + NEGATIVE_BUNDLE
    client.sock.sendall(frame)
    client.send(P + "health")   # the same connection keeps working after the dropped packet
    assert json.loads(client.receive(P + "health", timeout=1)[1][0])["ok"] is True
    client.close()
    health_within_one_second(daemon)
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
    health_within_one_second(daemon)
    assert _cpu_seconds_while_idle() < 0.5


def test_two_daemons_pointed_at_each_other_stop_after_one_error(daemon, toy_bundle):
    with running_daemon(toy_bundle) as other:
        other_port = other.osc_udp.server_address[1]
        client = OscUdpClient(daemon.osc_udp.server_address[1])
        # the first daemon answers /health to the second's port; the second must not answer with a reply
        for request in (("health",), ("hello",), ("settings/get",), ("job/status", "x"), ("nope",)):
            client.send(P + request[0], *request[1:], other_port)
        client.close()
        time.sleep(0.3)
        assert _cpu_seconds_while_idle() < 0.5
        health_within_one_second(daemon)
        health_within_one_second(other)


def test_one_peer_gets_at_most_the_reply_rate(daemon):
    from notabridge.limits import LIMITS

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
    health_within_one_second(daemon)   # another peer is answered at once


def _drain(sock: socket.socket) -> int:
    n = 0
    try:
        while True:
            sock.recv(65536)
            n += 1
    except (BlockingIOError, socket.timeout):
        return n


def _bad_meter_excerpt() -> dict:
    from tests.daemon_helpers import toy_excerpt

    excerpt = toy_excerpt(1)
    measure = excerpt["measures"][0]
    measure["time"] = "1000000/1"
    for staff in measure["staves"]:
        staff["voices"][0]["events"] = [{"type": "rest", "duration": "1000000/1"}]
    return excerpt


def test_a_measure_of_a_million_whole_notes_is_refused_before_it_is_queued(daemon):
    start = time.monotonic()
    status, body = http_request(daemon, "POST", "/jobs", {"mode": "continue", "excerpt": _bad_meter_excerpt(), "bars": 1})
    assert status == 400 and "measures[0].time" in body["error"] and "1000000" in body["error"]
    assert time.monotonic() - start < 1.0
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    client.send(P + "job/submit", json.dumps({"mode": "continue", "excerpt": _bad_meter_excerpt(), "bars": 1}))
    address, args, _ = client.receive(timeout=2)
    client.close()
    assert address == P + "error" and "measures[0].time" in args[1]
    assert http_request(daemon, "GET", "/health")[1]["queue"] == 0


@pytest.mark.parametrize("field,value", [
    ("time", "3/6"), ("tuplet", {"actual": 1000, "normal": 2}), ("pitch", 128), ("tpc", 99), ("voice", 9),
    ("tempo", 1e6), ("duration", "1/100000"), ("measure_index", 10**9), ("staff", 64),
])
def test_every_excerpt_number_out_of_bounds_answers_400_naming_it(daemon, field, value):
    from tests.daemon_helpers import toy_excerpt

    excerpt = toy_excerpt(1)
    measure = excerpt["measures"][0]
    event = measure["staves"][0]["voices"][0]["events"][0]
    target = {"time": (measure, "time"), "tuplet": (event, "tuplet"), "pitch": (event["notes"][0], "pitch"),
              "tpc": (event["notes"][0], "tpc"), "voice": (measure["staves"][0]["voices"][0], "voice"),
              "tempo": (measure, "tempo"), "duration": (event, "duration"), "measure_index": (measure, "index"),
              "staff": (measure["staves"][0], "staff")}[field]
    target[0][target[1]] = value
    status, body = http_request(daemon, "POST", "/jobs", {"mode": "continue", "excerpt": excerpt, "bars": 1})
    assert status == 400, body
    assert f".{target[1]}" in body["error"], body["error"]


def test_the_watchdog_ends_a_job_past_its_budget_with_a_reason(toy_bundle):
    from tests.daemon_helpers import toy_excerpt, wait_for_job

    with running_daemon(toy_bundle, job_budget=lambda request: 0.0) as short:
        status, body = http_request(short, "POST", "/jobs", {"mode": "continue", "excerpt": toy_excerpt(), "bars": 4})
        assert status == 202
        ended = wait_for_job(short, body["id"], timeout=10)
        assert ended["status"] == "error" and "time budget of 0.0 s" in ended["error"]
        assert ended["progress"]["bars_done"] < 4
        health_within_one_second(short)
    with running_daemon(toy_bundle) as normal:   # the default budget, from the job's size, lets it finish
        status, body = http_request(normal, "POST", "/jobs", {"mode": "continue", "excerpt": toy_excerpt(), "bars": 4})
        assert wait_for_job(normal, body["id"])["status"] == "done"


def test_notation_conversion_stops_at_the_next_measure_when_cancelled():
    import threading

    from notabridge.cancel import cancel_scope
    from notabridge.errors import Cancelled
    from notabridge.notation import abc_to_excerpt, excerpt_to_abc
    from tests.daemon_helpers import toy_excerpt

    excerpt = toy_excerpt(8)
    abc = excerpt_to_abc(excerpt)   # outside a scope nothing is checked
    event = threading.Event()
    event.set()
    with cancel_scope(event):
        with pytest.raises(Cancelled):
            excerpt_to_abc(excerpt)
        with pytest.raises(Cancelled):
            abc_to_excerpt(abc, template=excerpt)
    assert abc_to_excerpt(abc, template=excerpt)["measures"]


# ---- no input produces a 500 (HTTP) or an "internal error" (OSC) --------------------------------
NUMERIC_FIELDS = ["bars", "variants", "top_k", "seed", "temperature", "top_p"]
BAD_NUMBERS = ["1e999", "-1e999", "Infinity", "-Infinity", "NaN", "1" * 400, "-" + "9" * 400, "1e308"]


def _raw_post(daemon, path: str, body: bytes) -> tuple[int, dict]:
    return http_request(daemon, "POST", path, raw=body, headers={"Content-Type": "application/json"})


def _toy_job_text(**fields: str) -> bytes:
    from tests.daemon_helpers import toy_excerpt

    job = {"mode": "continue", "excerpt": toy_excerpt(1), "bars": 1}
    text = json.dumps(job)[:-1]
    for name, raw in fields.items():
        text += f', "{name}": {raw}'
    return (text + "}").encode()


@pytest.mark.parametrize("field", NUMERIC_FIELDS)
def test_non_finite_and_huge_numbers_answer_400_naming_the_field(daemon, field):
    for raw in BAD_NUMBERS:
        status, body = _raw_post(daemon, "/settings", f'{{"{field}": {raw}}}'.encode())
        assert status == 400 and field in body["error"], (raw, status, body)
        status, body = _raw_post(daemon, "/jobs", _toy_job_text(settings=f'{{"{field}": {raw}}}'))
        assert status == 400 and field in body["error"], (raw, status, body)
        if field in ("bars", "variants"):
            status, body = _raw_post(daemon, "/jobs", _toy_job_text(**{field: raw}))
            assert status == 400 and field in body["error"], (raw, status, body)
    assert http_request(daemon, "GET", "/health")[1]["queue"] == 0


def test_deep_nesting_answers_400(daemon):
    for depth in (41, 990, 5000, 100_000):
        nested = "[" * depth + "]" * depth
        for path, body in (("/jobs", nested), ("/settings", nested),
                           ("/jobs", _toy_job_text(settings=f'{{"prompt": {nested}}}').decode()),
                           ("/jobs", _toy_job_text(tag=nested).decode())):
            status, answer = _raw_post(daemon, path, body.encode())
            assert status == 400, (depth, path, status, answer)
    health_within_one_second(daemon)


WRONG_TYPES = ["[]", '""', "0", "false", "null", '"x"', "1.5", "{}", "[[]]", '{"a": 1}']


def test_wrong_types_at_every_level_answer_400_naming_the_field(daemon):
    from tests.daemon_helpers import toy_excerpt

    for raw in WRONG_TYPES:
        for path in ("/jobs", "/settings"):   # the body itself
            status, body = _raw_post(daemon, path, raw.encode())
            assert status == 400 or (path == "/settings" and raw in ("{}",)), (path, raw, status, body)
        for field in ("settings", "mode", "excerpt", "staves", "time", "key", "tag", "prompt"):
            valid = {("settings", "null"), ("settings", "{}"), ("staves", "null"), ("time", "null"), ("key", "null"),
                     ("prompt", "null"), ("key", "0"), ("tag", '""'), ("tag", '"x"')}
            if (field, raw) in valid:
                continue
            status, body = _raw_post(daemon, "/jobs", _toy_job_text(**{field: raw}))
            assert status == 400 and field in body["error"], (field, raw, status, body)
        # inside the excerpt: each level replaced by the wrong type
        for path in (["parts"], ["staves"], ["measures"], ["measures", 0], ["measures", 0, "staves"],
                     ["measures", 0, "staves", 0, "voices"], ["measures", 0, "staves", 0, "voices", 0, "events"],
                     ["measures", 0, "staves", 0, "voices", 0, "events", 0],
                     ["measures", 0, "staves", 0, "voices", 0, "events", 0, "notes"],
                     ["measures", 0, "staves", 0, "voices", 0, "events", 0, "notes", 0, "pitch"],
                     ["measures", 0, "time"], ["measures", 0, "key"], ["selection"], ["selection", "start"]):
            excerpt = toy_excerpt(1)
            target = excerpt
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = json.loads(raw)
            status, body = http_request(daemon, "POST", "/jobs", {"mode": "continue", "excerpt": excerpt, "bars": 1})
            if status == 202:   # a few wrong values are still a valid excerpt (e.g. no parts at all is refused later)
                from tests.daemon_helpers import wait_for_job
                ended = wait_for_job(daemon, body["id"])
                assert ended["status"] in ("done", "error") and "internal" not in (ended["error"] or ""), (path, raw, ended)
                continue
            assert status == 400, (path, raw, status, body)
            assert str(path[-1]) in body["error"] or "excerpt" in body["error"], (path, raw, body)
    health_within_one_second(daemon)


def test_osc_answers_a_clear_error_for_the_same_inputs(daemon):
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    try:
        for field in NUMERIC_FIELDS:
            for raw in BAD_NUMBERS[:7]:
                for request in ((P + "settings/set", f'{{"{field}": {raw}}}'),
                                (P + "job/submit", _toy_job_text(settings=f'{{"{field}": {raw}}}').decode())):
                    client.send(*request)
                    address, args, _ = client.receive(timeout=2)
                    assert address == P + "error" and field in args[1] and "internal" not in args[1], (request, args)
            client.send(P + "settings/" + field, "1e999")   # a knob address with JSON text
            address, args, _ = client.receive(timeout=2)
            assert address == P + "error" and field in args[1], args
        for raw in ("[]", '""', "0", "false"):
            client.send(P + "job/submit", _toy_job_text(settings=raw).decode())
            address, args, _ = client.receive(timeout=2)
            assert address == P + "error" and "settings" in args[1], args
        client.send(P + "job/submit", "[" * 5000 + "]" * 5000)
        address, args, _ = client.receive(timeout=2)
        assert address == P + "error" and "internal" not in args[1], args
    finally:
        client.close()
    health_within_one_second(daemon)


@pytest.mark.parametrize("request_line", [b"PATCH /jobs HTTP/1.1", b"BREW /health HTTP/1.1", b"GET /health HTTP/2.0"])
def test_odd_methods_and_versions_are_client_errors(daemon, request_line):
    host, port = daemon.http.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        answer = sock.recv(65536)
    code = int(answer.split(b" ", 2)[1])
    assert 400 <= code < 500, answer[:100]


def test_the_log_filter_caps_every_kind_of_line_and_counts_the_rest():
    import io

    from notabridge.daemon.logs import RateLimitFilter
    from notabridge.limits import LIMITS

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s%(dropped_note)s"))
    handler.addFilter(RateLimitFilter())
    logger = logging.getLogger("notabridge.test-flood")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        start = time.monotonic()
        for n in range(20_000):
            logger.warning("datagram %d could not be read", n)   # one call site, a new text each time
        elapsed = time.monotonic() - start
        time.sleep(1.0)
        logger.warning("after the flood")
    finally:
        logger.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) <= LIMITS["log_burst"] + LIMITS["log_lines_per_second"] * (elapsed + 1) + 1, len(lines)
    assert lines[-1].startswith("after the flood [") and "dropped before this one" in lines[-1]


def test_osc_tcp_connections_beyond_the_limit_are_closed_and_a_freed_place_is_reused(daemon):
    from notabridge.limits import LIMITS

    port = daemon.osc_tcp.server_address[1]
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(LIMITS["osc_tcp_connections"])]
    try:
        time.sleep(0.3)   # every one is being served (and waits for its first byte)
        extra = OscTcpClient(port)
        extra.send(P + "health")
        with pytest.raises((ConnectionError, OSError)):
            extra.receive(P + "health", timeout=2)
        extra.close()
        health_within_one_second(daemon)   # UDP and HTTP are not affected
        held.pop().close()
        time.sleep(0.3)
        again = OscTcpClient(port)
        again.send(P + "health")
        assert json.loads(again.receive(P + "health", timeout=2)[1][0])["ok"] is True
        again.close()
    finally:
        for sock in held:
            sock.close()
