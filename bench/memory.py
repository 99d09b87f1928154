"""Daemon memory over jobs: idle, peak during a job (1 and 4 variants), and after each job.

    nice -n 10 python bench/memory.py [--model BUNDLE] [--bars 4] [--rounds 2]

Starts `notabridge serve` as its own process and samples its resident set size (VmRSS in
/proc/PID/status) every 10 ms while it sends "continue N bars" of four measures of BWV 66.6
(4 parts) over HTTP: one warm-up job (first-call costs: imports, ONNX Runtime's first runs),
then per round a 1-variant and a 4-variant job, each followed by a short idle wait. Prints
idle RSS, each job's peak and the RSS after it, and after / idle (target: within 10%).
Default model: a NotaGen-small-shaped bundle (bench/small_shaped.py) when built, else the
embedded one.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency import chorale_excerpt, free_port, http_json, start_daemon  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    """RSS of a process every `period` seconds in a thread; `peak()` since the last `reset()`."""

    def __init__(self, pid: int, period: float = 0.01):
        self.pid, self.period, self._peak = pid, period, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._peak = max(self._peak, rss_mb(self.pid))
            except OSError:
                return
            time.sleep(self.period)

    def reset(self) -> None:
        self._peak = rss_mb(self.pid)

    def peak(self) -> float:
        return self._peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_job(port: int, job: dict) -> str:
    job_id = http_json(port, "POST", "/jobs", job)["id"]
    while (status := http_json(port, "GET", f"/jobs/{job_id}"))["status"] not in ("done", "error", "cancelled"):
        time.sleep(0.02)
    return status["status"] if status["status"] == "done" else f"{status['status']}: {status.get('error')}"


def settle(pid: int, seconds: float = 1.0) -> float:
    """RSS once the job's thread is done and the daemon idles (minimum over a short wait)."""
    end, low = time.time() + seconds, float("inf")
    while time.time() < end:
        low = min(low, rss_mb(pid))
        time.sleep(0.05)
    return low


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(os.environ.get("TMPDIR", "/tmp")) / "notabridge_bench" / "small_shaped_bundle"
    ap.add_argument("--model", help=f"bundle folder (default: {default} if built, else the embedded model)")
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    model = args.model or (str(default) if (default / "config.json").is_file() else None)

    excerpt = chorale_excerpt()
    ports = {"http": free_port(), "udp": free_port(socket.SOCK_DGRAM), "tcp": free_port()}
    daemon = start_daemon(model, ports)
    sampler = Sampler(daemon.pid)
    rows = []
    try:
        started = settle(daemon.pid)
        job = lambda variants, seed: {"mode": "continue", "excerpt": excerpt, "bars": args.bars,  # noqa: E731
                                      "variants": variants, "settings": {"seed": seed}}
        print(f"model: {model or 'embedded'}; RSS at start {started:.0f} MB", flush=True)
        outcome = run_job(ports["http"], job(1, 100))
        idle = settle(daemon.pid)
        print(f"warm-up job ({outcome}); idle RSS {idle:.0f} MB", flush=True)
        for round_ in range(args.rounds):
            for variants in (1, 4):
                before = settle(daemon.pid, 0.3)
                sampler.reset()
                t = time.perf_counter()
                outcome = run_job(ports["http"], job(variants, round_))
                seconds = time.perf_counter() - t
                peak = sampler.peak()
                after = settle(daemon.pid)
                rows.append((round_ + 1, variants, before, peak, after, seconds, outcome))
                print(f"round {round_ + 1}, {variants} variant(s): before {before:.0f} MB, peak {peak:.0f} MB, "
                      f"after {after:.0f} MB ({after / idle:.2f}x idle), {seconds:.1f} s, {outcome}", flush=True)
    finally:
        sampler.stop()
        daemon.terminate()
        daemon.wait(30)
    worst = max(r[4] for r in rows) / idle
    print(f"\nidle {idle:.0f} MB; peak 1 variant {max(r[3] for r in rows if r[1] == 1):.0f} MB, "
          f"4 variants {max(r[3] for r in rows if r[1] == 4):.0f} MB; worst after-job RSS {worst:.2f}x idle "
          f"(target <= 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
