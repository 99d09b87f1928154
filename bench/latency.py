"""End-to-end latency of "continue 4 bars" on a four-part excerpt through the daemon's doors.

Starts `notabridge serve` as its own process (the embedded model, or --model BUNDLE), sends the
same job (same seed per run) over HTTP (submit, poll, fetch the result with MusicXML), OSC over
UDP (result pushed) and OSC over TCP (whole result pushed), and calls notabridge.jobs.compose.compose
directly in this process as the baseline. Prints p50 / p95 per door, the ratio to the baseline,
and the share of each request's time spent outside the engine (end-to-end minus the engine's own
`seconds`), whose target is under 10%.

    python bench/latency.py [--model BUNDLE] [--runs 10] [--bars 4] [--excerpt chorale|toy]

`--excerpt toy` uses the two-voice 3/4 excerpt of the daemon tests, for the toy bundle of
tests/engine_helpers.py (which only knows that style) when no real model is at hand.
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.daemon_helpers import OscTcpClient, OscUdpClient, toy_excerpt  # noqa: E402  (plain clients and data)


def chorale_excerpt(measures: int = 4) -> dict:
    """The first full measures of Bach's BWV 66.6 (music21 corpus), soprano to bass."""
    from music21 import corpus

    from notabridge.notation.music21_bridge import excerpt_from_score

    excerpt = excerpt_from_score(corpus.parse("bach/bwv66.6").measures(1, measures))
    excerpt["selection"] = {"start": 0, "end": len(excerpt["measures"]), "staves": [s["index"] for s in excerpt["staves"]]}
    return excerpt


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_daemon(model: str | None, ports: dict, extra: list[str] = (), quiet: bool = False) -> subprocess.Popen:
    """`notabridge serve` on the given ports (and `extra` options), once it says it is ready."""
    cmd = [sys.executable, "-m", "notabridge.cli.main", "serve", "--http-port", str(ports["http"]),
           "--osc-port", str(ports["udp"]), "--osc-tcp-port", str(ports["tcp"]), *extra]
    if model:
        cmd += ["--model", model]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if not quiet:
            print("  daemon:", line.rstrip())
        if line.startswith("ready"):
            return proc
    raise SystemExit(f"the daemon did not start (exit {proc.wait()})")


def http_json(port: int, method: str, path: str, body: dict | None = None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(method, path, body=None if body is None else json.dumps(body))
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {data}")
    return data


def via_http(port: int, job: dict) -> tuple[float, float]:
    start = time.perf_counter()
    job_id = http_json(port, "POST", "/jobs", job)["id"]
    while (status := http_json(port, "GET", f"/jobs/{job_id}"))["status"] not in ("done", "error", "cancelled"):
        time.sleep(0.01)   # the MuseScore plugin polls too
    if status["status"] != "done":
        raise RuntimeError(status["error"])
    result = http_json(port, "GET", f"/jobs/{job_id}/result")
    return time.perf_counter() - start, result["seconds"]


def via_osc(client, job: dict) -> tuple[float, float]:
    start = time.perf_counter()
    client.send("/notabridge/job/submit", json.dumps(job))
    while True:
        address, args = client.receive(timeout=600)[:2]
        if address == "/notabridge/job/result":
            result = json.loads(args[1])
            return time.perf_counter() - start, result["seconds"]
        if address in ("/notabridge/job/error", "/notabridge/error"):
            raise RuntimeError(str(args[-1]))


def direct(engine, job: dict) -> tuple[float, float]:
    from notabridge.jobs.request import parse_job_request
    from notabridge.jobs.settings import default_settings
    from notabridge.jobs.compose import compose

    from notabridge.errors import JobError

    request = parse_job_request(job, default_settings())
    start = time.perf_counter()
    try:
        result = compose(request, engine)
    except JobError as exc:
        raise RuntimeError(str(exc)) from None
    return time.perf_counter() - start, result.seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="bundle folder (default: the embedded model)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--bars", type=int, default=4)
    parser.add_argument("--excerpt", choices=["chorale", "toy"], default="chorale")
    args = parser.parse_args()

    from notabridge.engine import Engine

    excerpt = chorale_excerpt() if args.excerpt == "chorale" else toy_excerpt()
    jobs = [{"mode": "continue", "excerpt": excerpt, "bars": args.bars, "variants": 1, "settings": {"seed": run}}
            for run in range(args.runs)]
    ports = {"http": free_port(), "udp": free_port(socket.SOCK_DGRAM), "tcp": free_port()}
    engine = Engine(args.model, device="auto")
    print(f"model: {engine.info.get('name')}  provider: {engine.provider}  runs: {args.runs}  "
          f"job: continue {args.bars} bars after {len(excerpt['measures'])} measures of "
          + ("BWV 66.6 (4 parts)" if args.excerpt == "chorale" else "the toy excerpt (2 parts)"))
    daemon = start_daemon(args.model, ports)
    udp, tcp = OscUdpClient(ports["udp"]), OscTcpClient(ports["tcp"])
    doors = {"direct compose() (baseline)": lambda job: direct(engine, job),
             "HTTP (submit, poll, result)": lambda job: via_http(ports["http"], job),
             "OSC over UDP": lambda job: via_osc(udp, job),
             "OSC over TCP": lambda job: via_osc(tcp, job)}
    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in doors}
    try:
        for warm_up in (doors["HTTP (submit, poll, result)"], doors["direct compose() (baseline)"]):
            try:   # first-call costs (session warm-up, imports) are not latency
                warm_up(jobs[0])
            except RuntimeError:
                pass
        failed = {name: 0 for name in doors}
        for job in jobs:                # interleaved, so load from elsewhere hits every door alike
            for name, door in doors.items():
                try:
                    measured[name].append(door(job))
                except RuntimeError as exc:   # the model could not write valid bars: reported, not timed
                    failed[name] += 1
                    print(f"  {name}: job failed: {exc}")
    finally:
        udp.close()
        tcp.close()
        daemon.terminate()
        daemon.wait(30)

    if any(not values for values in measured.values()):
        print("no successful run through every door; nothing to compare")
        return 1
    base = statistics.median(total for total, _ in measured["direct compose() (baseline)"])
    print(f"\n{'door':32} {'p50 s':>8} {'p95 s':>8} {'p50/baseline':>13} {'outside engine':>15} {'failed':>7}")
    for name, values in measured.items():
        totals = [total for total, _ in values]
        outside = [(total - engine_s) / total for total, engine_s in values]
        print(f"{name:32} {statistics.median(totals):8.3f} {percentile(totals, 0.95):8.3f} "
              f"{statistics.median(totals) / base:13.3f} {100 * statistics.median(outside):14.1f}% {failed[name]:7d}")
    print("\noutside engine = (end-to-end - the engine's own seconds) / end-to-end, median over runs; target < 10%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
