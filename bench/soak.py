"""Soak: N minutes of mixed valid and invalid traffic from 20 clients against `notabridge serve`.

Starts the daemon as its own process (the embedded model, or --model BUNDLE), then 20 clients
(8 HTTP, 6 OSC over UDP, 6 OSC over TCP) each loop until the time is up: submit a valid job and
wait for its end (some are cancelled right away), send one of the inputs of issue 15 (1e999,
NaN, 400-digit integers, deep nesting, wrong types, a 1000000/1 measure, the python-osc hang
bundle, noise), or ask /health. Prints jobs done / error / cancelled / busy (refused while the
queue was full) / lost (accepted but never ended), p50/p95 of job and /health latency, every
5xx or "internal error" seen (target 0), the daemon's RSS over time and its log size.

    python bench/soak.py [--minutes 10] [--model BUNDLE] [--excerpt chorale|toy] [--clients 20]

`--excerpt toy` with `--model` the toy bundle of tests/engine_helpers.py when no real model is
at hand. Exits 1 when a job was lost or anything answered 5xx / internal error.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from latency import chorale_excerpt, free_port, percentile  # noqa: E402  (same helpers as the latency bench)
from tests.daemon_helpers import OscTcpClient, OscUdpClient, toy_excerpt  # noqa: E402  (plain clients and data)

P = "/notabridge/"
ENDS = ("done", "error", "cancelled")
NEGATIVE_BUNDLE = b"#bundle\x00" + bytes(8) + b"\xff\xff\xff\xf8" + b"/notabridge/nope\x00\x00\x00\x00,\x00\x00\x00"


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.job_latency: list[float] = []
        self.health_latency: list[float] = []
        self.errors: Counter = Counter()
        self.bad_answers: list[str] = []

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n


def bad_bodies(excerpt: dict) -> list[bytes]:
    """The issue's inputs as raw JSON bodies."""
    job = json.dumps({"mode": "continue", "excerpt": excerpt, "bars": 1})[:-1]
    million = json.loads(json.dumps(excerpt))
    million["measures"] = million["measures"][:1]
    million["measures"][0]["time"] = "1000000/1"
    for staff in million["measures"][0]["staves"]:
        staff["voices"] = [{"voice": 0, "events": [{"type": "rest", "duration": "1000000/1"}]}]
    million.pop("selection", None)
    million["selection"] = {"start": 0, "end": 1, "staves": [s["index"] for s in million["staves"]]}
    bodies = [json.dumps({"mode": "continue", "excerpt": million, "bars": 1})]
    for field in ("bars", "variants", "top_k", "seed", "temperature", "top_p"):
        for raw in ("1e999", "NaN", "Infinity", "9" * 400):
            bodies.append(job + f', "settings": {{"{field}": {raw}}}}}')
    for raw in ("[]", '""', "0", "false"):
        bodies.append(job + f', "settings": {raw}}}')
    bodies += ["[" * 5000 + "]" * 5000, "{", "null", '"x"', job + ', "staves": [99]}']
    return [b.encode() for b in bodies]


class Client(threading.Thread):
    def __init__(self, n: int, door: str, ports: dict, excerpt: dict, deadline: float, tally: Tally,
                 job_timeout: float) -> None:
        super().__init__(name=f"client-{n}", daemon=True)
        self.n, self.door, self.ports, self.excerpt = n, door, ports, excerpt
        self.deadline, self.tally, self.job_timeout = deadline, tally, job_timeout
        self.rnd = random.Random(n)
        self.bad = bad_bodies(excerpt)
        self.osc = None

    # ---- transport --------------------------------------------------------------------------
    def http(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=self.job_timeout)
        try:
            conn.request(method, path, body=body)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {"raw": data[:200].decode("latin-1")}
        if response.status >= 500 and response.status != 503:
            self.tally.bad_answers.append(f"HTTP {response.status} {method} {path}: {parsed}")
        return response.status, parsed

    def connect(self) -> None:
        if self.door == "udp":
            self.osc = OscUdpClient(self.ports["udp"])
        elif self.door == "tcp":
            self.osc = OscTcpClient(self.ports["tcp"], slip_framing=self.n % 2 == 0)

    def osc_receive(self, timeout: float) -> tuple[str, list]:
        address, args = self.osc.receive(timeout=timeout)[:2]
        if any(isinstance(a, str) and "internal error" in a for a in args):
            self.tally.bad_answers.append(f"OSC {address}: {args}")
        return address, args

    # ---- actions ----------------------------------------------------------------------------
    def valid_job(self, cancel: bool) -> None:
        job = {"mode": "continue", "excerpt": self.excerpt, "bars": 1, "variants": 1,
               "settings": {"seed": self.rnd.randrange(1000)}, "tag": f"{self.n}"}
        start = time.monotonic()
        if self.door == "http":
            status, body = self.http("POST", "/jobs", json.dumps(job).encode())
            if status == 503:
                return self.tally.add("busy")
            if status != 202:
                self.tally.errors[f"refused {status}: {body.get('error')}"] += 1
                return self.tally.add("refused")
            self.tally.add("submitted")
            if cancel:
                self.http("POST", f"/jobs/{body['id']}/cancel")
            while time.monotonic() - start < self.job_timeout:
                state = self.http("GET", f"/jobs/{body['id']}")[1]
                if state.get("status") in ENDS:
                    return self.ended(state["status"], state.get("error"), start)
                time.sleep(0.05)
            return self.tally.add("lost")
        self.osc.send(P + "job/submit", json.dumps(job))
        job_id, outcome, status_seen = None, None, not cancel
        # a cancel is answered with job/status, before or after the job's end: both are read, so
        # that nothing of this job is left for the next request to trip over
        while time.monotonic() - start < self.job_timeout and (outcome is None or not status_seen):
            try:
                address, args = self.osc_receive(timeout=max(0.1, self.job_timeout - (time.monotonic() - start)))
            except (OSError, ConnectionError):
                break
            if address == P + "error" and "busy" in str(args[-1]):
                return self.tally.add("busy")
            if address == P + "error" and job_id is None:
                self.tally.errors[f"refused: {args[-1]}"] += 1
                return self.tally.add("refused")
            if address == P + "job/queued" and job_id is None and args[1] == f"{self.n}":
                job_id = args[0]
                self.tally.add("submitted")
                if cancel:
                    self.osc.send(P + "job/cancel", job_id)
            elif address == P + "job/status" and job_id is not None:
                status_seen = True
            elif address in (P + "job/result", P + "job/error", P + "job/cancelled") and args[0] == job_id:
                outcome = {"job/result": "done", "job/error": "error", "job/cancelled": "cancelled"}[address[len(P):]]
                self.ended(outcome, args[1] if outcome != "done" else None, start)
        if outcome is None:
            self.tally.add("lost" if job_id else "no answer")

    def ended(self, outcome: str, error: str | None, start: float) -> None:
        self.tally.add(outcome)
        if outcome == "done":
            with self.tally.lock:
                self.tally.job_latency.append(time.monotonic() - start)
        elif outcome == "error":
            self.tally.errors[f"job error: {error}"] += 1

    def invalid(self) -> None:
        self.tally.add("invalid sent")
        body = self.rnd.choice(self.bad)
        if self.door == "http":
            status, _ = self.http("POST", self.rnd.choice(["/jobs", "/jobs", "/settings"]), body)
            self.tally.add(f"invalid answered {status // 100}xx")
            return
        choice = self.rnd.randrange(4)
        if choice == 0:   # raw garbage: dropped without an answer
            raw = NEGATIVE_BUNDLE if self.rnd.random() < 0.5 else self.rnd.randbytes(self.rnd.randrange(1, 200))
            if self.door == "udp":
                self.osc.send_raw(raw)
            elif self.osc.slip:
                from pythonosc import slip
                self.osc.sock.sendall(slip.encode(raw))
            else:
                self.osc.sock.sendall(struct.pack("!I", len(raw)) + raw)
            return self.tally.add("invalid dropped")
        if choice == 1:
            self.osc.send(P + "health", self.ports[self.rnd.choice(["udp", "tcp", "http"])])   # our own port
        else:
            self.osc.send(P + "job/submit", body.decode())
        try:
            address, _ = self.osc_receive(timeout=10)
            self.tally.add("invalid answered error" if address == P + "error" else f"invalid answered {address}")
        except (OSError, ConnectionError):
            self.tally.add("invalid unanswered")

    def health(self) -> None:
        start = time.monotonic()
        if self.door == "http":
            ok = self.http("GET", "/health")[1].get("ok")
        else:
            self.osc.send(P + "health")
            ok = False
            while not ok and time.monotonic() - start < 10:
                address, args = self.osc_receive(timeout=10)
                ok = address == P + "health"
        if ok:
            with self.tally.lock:
                self.tally.health_latency.append(time.monotonic() - start)
        self.tally.add("health ok" if ok else "health failed")

    def run(self) -> None:
        self.connect()
        while time.monotonic() < self.deadline:
            r = self.rnd.random()
            try:
                if r < 0.30:
                    self.valid_job(cancel=r < 0.03)
                elif r < 0.75:
                    self.invalid()
                else:
                    self.health()
            except (OSError, ConnectionError, http.client.HTTPException) as exc:
                self.tally.errors[f"client {self.door}: {type(exc).__name__}: {exc}"] += 1
                if self.osc is not None:
                    self.osc.close()
                self.connect()
            time.sleep(self.rnd.uniform(0.01, 0.1))
        if self.osc is not None:
            self.osc.close()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", help="bundle folder (default: the embedded model)")
    parser.add_argument("--excerpt", choices=["chorale", "toy"], default="chorale")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rss-every", type=float, default=None, metavar="S", help="seconds between RSS samples")
    parser.add_argument("--job-timeout", type=float, default=120.0, help="a job not ended after this is lost")
    args = parser.parse_args()

    excerpt = chorale_excerpt() if args.excerpt == "chorale" else toy_excerpt()
    ports = {"http": free_port(), "udp": free_port(socket.SOCK_DGRAM), "tcp": free_port()}
    log_dir = Path(tempfile.mkdtemp(prefix="notabridge-soak-"))
    cmd = [sys.executable, "-m", "notabridge.cli.main", "serve", "--http-port", str(ports["http"]),
           "--osc-port", str(ports["udp"]), "--osc-tcp-port", str(ports["tcp"]), "--log-file", str(log_dir / "daemon.log")]
    if args.model:
        cmd += ["--model", args.model]
    console = open(log_dir / "console.txt", "w")   # a file, not a pipe: a full pipe would block the daemon
    daemon = subprocess.Popen(cmd, cwd=ROOT, stdout=console, stderr=subprocess.STDOUT, text=True)
    while "ready" not in (log_dir / "console.txt").read_text():
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon did not start:\n{(log_dir / 'console.txt').read_text()}")
        time.sleep(0.2)
    doors = ["http"] * 8 + ["udp"] * 6 + ["tcp"] * 6
    doors = [doors[i % len(doors)] for i in range(args.clients)]
    seconds = args.minutes * 60
    every = args.rss_every or max(5.0, seconds / 20)
    print(f"soak: {args.minutes:g} min, {args.clients} clients ({doors.count('http')} HTTP, {doors.count('udp')} OSC UDP, "
          f"{doors.count('tcp')} OSC TCP), excerpt {args.excerpt}, daemon pid {daemon.pid}", flush=True)
    tally = Tally()
    start = time.monotonic()
    deadline = start + seconds
    clients = [Client(n, door, ports, excerpt, deadline, tally, args.job_timeout) for n, door in enumerate(doors)]
    samples = [(0.0, rss_mb(daemon.pid))]
    for client in clients:
        client.start()
    while time.monotonic() < deadline:
        time.sleep(min(every, max(0.0, deadline - time.monotonic())))
        samples.append((time.monotonic() - start, rss_mb(daemon.pid)))
        with tally.lock:
            c = dict(tally.counts)
        print(f"  t={samples[-1][0]:6.0f} s  RSS {samples[-1][1]:6.1f} MB  jobs done {c.get('done', 0)}  "
              f"lost {c.get('lost', 0)}  busy {c.get('busy', 0)}  invalid sent {c.get('invalid sent', 0)}", flush=True)
    for client in clients:   # each finishes the job it waits for
        client.join(args.job_timeout + 30)
    samples.append((time.monotonic() - start, rss_mb(daemon.pid)))
    daemon.terminate()
    daemon.wait(60)
    console.close()
    log_bytes = sum(f.stat().st_size for f in log_dir.glob("daemon.log*"))

    c = tally.counts
    print(f"\njobs: submitted {c['submitted']}, done {c['done']}, error {c['error']}, cancelled {c['cancelled']}, "
          f"lost {c['lost']}; refused busy {c['busy']}, refused otherwise {c['refused']}, never queued {c['no answer']}")
    for name, values in (("job latency, submit -> end (done)", tally.job_latency), ("/health latency", tally.health_latency)):
        if values:
            print(f"{name}: p50 {percentile(values, 0.5) * 1000:.0f} ms, p95 {percentile(values, 0.95) * 1000:.0f} ms, "
                  f"mean {statistics.mean(values) * 1000:.0f} ms, n={len(values)}")
    invalid = {k: v for k, v in c.items() if k.startswith("invalid")}
    print(f"invalid inputs: {invalid}")
    print(f"health: ok {c['health ok']}, failed {c['health failed']}")
    print(f"5xx or internal error answers: {len(tally.bad_answers)}" + "".join(f"\n  {a}" for a in tally.bad_answers[:5]))
    print("RSS MB over time: " + ", ".join(f"{t:.0f}s {r:.1f}" for t, r in samples))
    print(f"RSS growth: {samples[-1][1] - samples[0][1]:+.1f} MB; daemon log (--log-file, all rotations): {log_bytes} bytes")
    for reason, n in tally.errors.most_common(8):
        print(f"  {n} x {reason}")
    return 1 if c["lost"] or tally.bad_answers else 0


if __name__ == "__main__":
    sys.exit(main())
