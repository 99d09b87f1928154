"""The daemon does not lose or duplicate jobs, or wedge: many concurrent clients, clients that
vanish mid-job. Real engine, toy bundle. (Malformed input by the thousand: tests/test_daemon_fuzz.py.)"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter


from tests.daemon_helpers import OscTcpClient, OscUdpClient, http_request, toy_excerpt

P = "/notabridge/"
DAEMON_OPTIONS = {"max_queued": 64}   # conftest.daemon: room for the many jobs below


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


def test_fifty_jobs_from_five_concurrent_clients_each_end_once(daemon):
    _reset_settings(daemon)
    job = {"mode": "continue", "excerpt": toy_excerpt(), "bars": 1}
    ends: dict[str, Counter] = {}
    failures: list[str] = []
    deadline = time.monotonic() + 170   # every client gives up (and the test fails) rather than hang

    def in_time(what: str) -> None:
        assert time.monotonic() < deadline, f"{what}: the daemon did not end the jobs in time"

    def http_client(name: str) -> None:
        ids = []
        for n in range(10):
            status, body = http_request(daemon, "POST", "/jobs", {**job, "settings": {"seed": n}})
            assert status == 202, body
            ids.append(body["id"])
        counts = Counter()
        for job_id in ids:
            while (state := http_request(daemon, "GET", f"/jobs/{job_id}")[1]["status"]) not in ("done", "error", "cancelled"):
                in_time(name)
                time.sleep(0.05)
            counts[(job_id, state)] += 1
        ends[name] = counts

    def osc_client(name: str, make) -> None:
        client = make()
        for n in range(10):
            client.send(P + "job/submit", json.dumps({**job, "tag": str(n)}))
        ids, counts = set(), Counter()
        while len(ids) < 10 or sum(counts.values()) < 10:
            in_time(name)
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
    clients = [(http_client, "http-1"), (http_client, "http-2"),
               (osc_client, "osc-udp", lambda: OscUdpClient(udp_port)),
               (osc_client, "osc-tcp-slip", lambda: OscTcpClient(tcp_port, True)),
               (osc_client, "osc-tcp-1.0", lambda: OscTcpClient(tcp_port, False))]
    threads = [threading.Thread(target=guarded, args=args, daemon=True) for args in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline + 10 - time.monotonic()))
    assert not [t for t in threads if t.is_alive()], "a client is still waiting for its jobs"
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
