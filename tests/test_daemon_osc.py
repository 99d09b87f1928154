"""The daemon's OSC door over UDP and TCP (python-osc messages), on the real engine and the toy bundle (tests/engine_helpers.py)."""
from __future__ import annotations

import json
import time

import pytest

from tests.daemon_helpers import OscTcpClient, OscUdpClient, http_request, running_daemon, toy_excerpt

P = "/notabridge/"


@pytest.fixture
def udp(daemon):
    client = OscUdpClient(daemon.osc_udp.server_address[1])
    yield client
    client.close()


def test_hello_answers_capabilities_to_the_sender(udp):
    udp.send(P + "hello")
    address, args, size = udp.receive(P + "capabilities")
    caps = json.loads(args[0])
    assert caps["model"]["name"] == "toy-two-voices" and caps["provider"] == "CPUExecutionProvider"
    assert "queue" in caps and size < 8192


def test_reply_port_sends_the_answer_elsewhere(daemon, udp):
    listener = OscUdpClient(daemon.osc_udp.server_address[1])
    port = listener.sock.getsockname()[1]
    udp.send(P + "settings/get", port)
    _, args, _ = listener.receive(P + "settings")
    assert json.loads(args[0]) == daemon.settings.snapshot()
    listener.close()


def test_every_subscriber_hears_every_change_whoever_made_it(daemon, udp):
    tcp = OscTcpClient(daemon.osc_tcp.server_address[1], slip_framing=True)
    udp.send(P + "settings/subscribe")
    tcp.send(P + "subscribe")
    for client in (udp, tcp):
        client.receive(P + "settings")
    # a change over HTTP
    http_request(daemon, "POST", "/settings", {"temperature": 0.7})
    assert json.loads(udp.receive(P + "settings")[1][0])["temperature"] == 0.7
    assert json.loads(tcp.receive(P + "settings")[1][0])["temperature"] == 0.7
    # a change over OSC UDP, by name/value pairs, heard by the TCP subscriber
    udp.send(P + "settings/set", "top_k", 4, "top_p", 0.5)
    pushed = json.loads(tcp.receive(P + "settings")[1][0])
    assert pushed["top_k"] == 4 and pushed["top_p"] == 0.5
    for _ in range(2):   # the sender gets its reply, and the push as a subscriber
        assert json.loads(udp.receive(P + "settings")[1][0]) == pushed
    # a knob-style address from the TCP client, heard by the UDP subscriber
    tcp.send(P + "settings/temperature", 1.1)
    assert json.loads(udp.receive(P + "settings")[1][0])["temperature"] == pytest.approx(1.1)
    # a bad value is an error to its sender only, and changes nothing
    udp.send(P + "settings/set", json.dumps({"top_p": 7}))
    address, args, _ = udp.receive(P + "error")
    assert args[0] == P + "settings/set" and "top_p" in args[1]
    assert http_request(daemon, "GET", "/settings")[1]["top_p"] == 0.5
    udp.send(P + "unsubscribe")
    udp.receive(P + "unsubscribed")
    tcp.close()


def test_job_over_udp_reports_progress_and_a_small_result(daemon, udp):
    job = {"mode": "continue", "excerpt": toy_excerpt(), "bars": 2, "variants": 1, "tag": "t1",
           "settings": {"seed": 5}}
    udp.send(P + "job/submit", json.dumps(job))
    _, (job_id, tag), _ = udp.receive(P + "job/queued")
    assert tag == "t1"
    seen_progress, end = [], None
    deadline = time.monotonic() + 120
    while end is None:
        assert time.monotonic() < deadline, f"no job/result after {len(seen_progress)} progress messages"
        address, args, size = udp.receive(timeout=max(0.1, deadline - time.monotonic()))
        assert size < 8192
        if address == P + "job/progress":
            assert args[0] == job_id
            seen_progress.append(args[1])
        elif address in (P + "job/result", P + "job/error"):
            end = (address, args)
    assert end[0] == P + "job/result", end
    result = json.loads(end[1][1])
    assert result["id"] == job_id and result["url"].endswith(f"/jobs/{job_id}/result")
    assert seen_progress == sorted(seen_progress) and seen_progress[-1] == 2
    # the whole score is fetched by id over HTTP
    status, full = http_request(daemon, "GET", f"/jobs/{job_id}/result")
    assert status == 200 and full["variants"][0]["excerpt"]["measures"]


@pytest.mark.parametrize("slip_framing", [True, False], ids=["osc1.1-slip", "osc1.0-size-prefix"])
def test_job_over_tcp_returns_the_whole_result(daemon, slip_framing):
    tcp = OscTcpClient(daemon.osc_tcp.server_address[1], slip_framing=slip_framing)
    tcp.send(P + "job/submit", json.dumps({"mode": "continue", "excerpt": toy_excerpt(), "bars": 1}))
    _, (job_id, _tag) = tcp.receive(P + "job/queued")
    address, args = tcp.receive(P + "job/result")
    result = json.loads(args[1])
    assert args[0] == job_id == result["id"]
    variant = result["variants"][0]
    assert variant["excerpt"]["measures"] and variant["abc"] and "<score-partwise" in variant["musicxml"]
    tcp.send(P + "job/status", job_id)
    assert json.loads(tcp.receive(P + "job/status")[1][0])["status"] == "done"
    tcp.close()


def test_requests_that_cannot_work_get_errors(udp):
    udp.send(P + "job/submit", "{not json")
    assert udp.receive(P + "error")[1][0] == P + "job/submit"
    udp.send(P + "job/cancel", "no-such-job")
    assert "no job" in udp.receive(P + "error")[1][1]
    udp.send(P + "no/such/address", 1)
    assert "docs/osc.md" in udp.receive(P + "error")[1][1]
    udp.send(P + "midi/record/start")
    assert "MIDI" in udp.receive(P + "error")[1][1]
    udp.send(P + "health")
    assert json.loads(udp.receive(P + "health")[1][0])["ok"] is True


def test_stopping_the_daemon_cancels_running_and_waiting_jobs_and_tells_their_clients(toy_bundle):
    with running_daemon(toy_bundle) as stopping:
        tcp = OscTcpClient(stopping.osc_tcp.server_address[1])
        for _ in range(2):
            tcp.send(P + "job/submit", json.dumps({"mode": "generate", "bars": 32}))
        ids = [tcp.receive(P + "job/queued")[1][0] for _ in range(2)]
        tcp.receive(P + "job/progress")          # the first one is running
        cancelled = stopping.stop()
        assert sorted(job.id for job in cancelled) == sorted(ids)
        told = {tcp.receive(P + "job/cancelled")[1][0] for _ in range(2)}
        assert told == set(ids)
        tcp.close()


def test_a_large_result_never_makes_an_oversized_datagram():
    from notabridge.jobs.compose import ComposeResult
    from notabridge.daemon.queue import Job
    from notabridge.daemon.results import compact_result_json

    big_abc = "[V:1]" + "c2 d2 e2 f2 " * 300 + "|\n"        # ~3.6 KB per variant, 8 variants
    job = Job(id="7-abcdef01", request=None, source="test", status="done",
              result=ComposeResult(variants=[{"excerpt": {"measures": []}, "abc": big_abc, "valid_first_try": 1.0,
                                              "log_likelihood": None}] * 8,
                                   provider="CPUExecutionProvider", seconds=1.0, warnings=[]))
    text = compact_result_json(job, 7800, "http://127.0.0.1:7878/jobs/7-abcdef01/result")
    assert len(text.encode()) <= 7800
    compact = json.loads(text)
    assert compact["truncated"] and compact["url"].endswith("/result") and len(compact["variants"]) == 8
    assert all("abc" not in v for v in compact["variants"])
