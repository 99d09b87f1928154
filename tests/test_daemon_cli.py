"""`notabridge serve` as a user runs it: the banner, SIGTERM / SIGINT stopping cleanly with the
running job cancelled and reported, the --listen warning, a clear message for a missing model."""
from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(*args: str) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "notabridge.cli.main", "serve", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith("ready"):
            break
    return proc, lines


def _http(port: int, method: str, path: str, body: dict | None = None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=None if body is None else json.dumps(body))
    data = json.loads(conn.getresponse().read())
    conn.close()
    return data


def test_serve_prints_where_it_listens_and_sigterm_cancels_the_running_job(toy_bundle):
    http_port, udp_port, tcp_port = _free_port(), _free_port(socket.SOCK_DGRAM), _free_port()
    proc, lines = _serve("--model", str(toy_bundle), "--http-port", str(http_port),
                         "--osc-port", str(udp_port), "--osc-tcp-port", str(tcp_port))
    try:
        text = "\n".join(lines)
        assert "model: toy-two-voices" in text and "CPUExecutionProvider" in text
        assert f"http://127.0.0.1:{http_port}/" in text
        assert f"127.0.0.1:{udp_port}" in text and f"127.0.0.1:{tcp_port}" in text
        job_id = _http(http_port, "POST", "/jobs", {"mode": "generate", "bars": 32})["id"]
        deadline = time.monotonic() + 30
        while _http(http_port, "GET", f"/jobs/{job_id}")["status"] == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, rest
    assert f"cancelled job {job_id}" in rest and rest.rstrip().endswith("stopped")


def test_listening_beyond_loopback_warns_and_sigint_stops(toy_bundle):
    proc, lines = _serve("--model", str(toy_bundle), "--listen", "0.0.0.0", "--http-port", str(_free_port()),
                         "--osc-port", "0", "--osc-tcp-port", "0")
    try:
        assert any(line.startswith("WARNING: listening on 0.0.0.0") for line in lines), lines
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "stopped" in rest


def test_a_missing_model_is_explained_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "notabridge.cli.main", "serve", "--model", str(tmp_path / "nothing")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "no such bundle folder" in proc.stderr and "Traceback" not in proc.stderr


def test_a_flood_of_bad_input_leaves_a_short_log(toy_bundle, tmp_path):
    """Thousands of malformed datagrams, python-osc-hang bundles and bad jobs: a few lines of log
    on stderr and in --log-file, each kind rate-limited, and the daemon still answers at once."""
    http_port, udp_port = _free_port(), _free_port(socket.SOCK_DGRAM)
    log_file = tmp_path / "logs" / "daemon.log"
    proc = subprocess.Popen([sys.executable, "-m", "notabridge.cli.main", "serve", "--model", str(toy_bundle),
                             "--http-port", str(http_port), "--osc-port", str(udp_port), "--osc-tcp-port", "0",
                             "--log-file", str(log_file)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("ready"):
                break
        bad = b"#bundle\x00" + bytes(8) + b"\xff\xff\xff\xf8" + b"/notabridge/nope\x00\x00\x00\x00,\x00\x00\x00"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for n in range(5000):
                sock.sendto(bad if n % 2 else bytes([n % 256]) * (4 + n % 64), ("127.0.0.1", udp_port))
                if n % 200 == 199:
                    time.sleep(0.005)
        assert _http(http_port, "GET", "/health")["ok"] is True
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "malformed OSC packet" in stderr and len(stderr) < 20_000, len(stderr)
    written = log_file.read_text()
    assert "malformed OSC packet" in written and len(written) < 20_000
