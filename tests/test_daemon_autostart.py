"""Start on demand (issue 21): `notabridge serve --socket-activation` under the real
systemd-socket-activate, and `notabridge autostart` writing and removing its files in a
temporary HOME (no systemd user bus here: the files and the printed instructions are checked)."""
from __future__ import annotations

import http.client
import json
import os
import plistlib
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notabridge.cli import autostart_units as units

ACTIVATE = shutil.which("systemd-socket-activate")
SERVE = [sys.executable, "-m", "notabridge.cli.main", "serve"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_line(proc: subprocess.Popen, deadline: float) -> str:
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                break
            if ch == b"\n":
                return buf.decode(errors="replace")
            buf += ch
    raise AssertionError(f"no line in time (so far: {buf!r})")


def _program(pid: int) -> str:
    """The program the process runs now (systemd-socket-activate execs the daemon in its place)."""
    return os.path.basename(os.readlink(f"/proc/{pid}/exe"))


def _stop(proc: subprocess.Popen) -> str:
    """Stop the process group, wait (bounded), return what it printed."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    rest = proc.stdout.read() if proc.stdout else b""
    return rest.decode(errors="replace")


def _activated(toy_bundle: Path, port: int, *options: str) -> subprocess.Popen:
    """systemd-socket-activate listening on `port`, the daemon (toy model) as its program."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    return subprocess.Popen([ACTIVATE, "-l", f"127.0.0.1:{port}", *SERVE, "--model", str(toy_bundle),
                             "--socket-activation", "--osc-port", "0", "--osc-tcp-port", "0", *options],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.skipif(ACTIVATE is None, reason="systemd-socket-activate is not installed")
def test_first_request_starts_the_daemon_on_the_passed_socket(toy_bundle):
    port = _free_port()
    proc = _activated(toy_bundle, port)
    try:
        deadline = time.monotonic() + 30
        assert f"127.0.0.1:{port}" in _read_line(proc, deadline)     # "Listening on 127.0.0.1:PORT as 3."
        time.sleep(0.5)
        # nothing asked yet: only the listener runs, no daemon (it would have exec'd in its place)
        assert proc.poll() is None and _program(proc.pid) == "systemd-socket-activate"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", "/capabilities")     # what the plugin's panel asks first
        response = conn.getresponse()
        caps = json.loads(response.read())
        conn.close()
        assert response.status == 200
        assert caps["endpoints"]["http"] == f"http://127.0.0.1:{port}/"     # the passed socket, not a new bind
        assert "accompany" in caps["modes"]
        assert _program(proc.pid).startswith("python")                     # the daemon runs now
        # a second request reaches the same daemon
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/health")
        health = conn.getresponse()
        assert health.status == 200 and json.loads(health.read())["ok"] is True
        conn.close()
    finally:
        out = _stop(proc)
    assert "stopped" in out, out


@pytest.mark.skipif(ACTIVATE is None, reason="systemd-socket-activate is not installed")
def test_an_idle_activated_daemon_stops_by_itself_and_not_while_asked(toy_bundle):
    """--idle-exit (the installed unit uses 30 minutes; 0.05 = 3 s here): requests every 0.2 s keep
    the daemon up past its limit; once they stop it ends by itself, saying the socket restarts it."""
    port = _free_port()
    proc = _activated(toy_bundle, port, "--idle-exit", "0.05")
    try:
        assert f"127.0.0.1:{port}" in _read_line(proc, time.monotonic() + 30)
        assert _get(port, "/health") == 200      # starts the daemon
        busy_until = time.monotonic() + 6        # twice the limit
        while time.monotonic() < busy_until:
            assert _get(port, "/health") == 200
            time.sleep(0.2)
        assert proc.poll() is None
        proc.wait(timeout=60)                    # idle now: it ends by itself
        out = proc.stdout.read().decode(errors="replace")
    finally:
        rest = _stop(proc)
    assert proc.returncode == 0
    assert "idle for 0.05 minutes: stopping (the next request starts the daemon again)" in out + rest
    assert "stopped" in out + rest


def test_socket_activation_without_a_socket_says_so():
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    done = subprocess.run([*SERVE, "--socket-activation"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "no socket was passed" in done.stderr and "without it" in done.stderr
    assert "Traceback" not in done.stderr


def test_sockets_passed_to_another_process_are_refused():
    from notabridge.daemon.socket_activation import ActivationError, systemd_socket

    env = {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid() + 1)}
    with pytest.raises(ActivationError, match="not this one"):
        systemd_socket(env)
    assert "LISTEN_FDS" not in env     # never handed on to children


def _autostart(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "XDG_CONFIG_HOME")}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(home / "no-runtime"))
    return subprocess.run([sys.executable, "-m", "notabridge.cli.main", "autostart", *args],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd user units are Linux")
def test_install_writes_units_and_remove_takes_them_away(tmp_path, toy_bundle):
    home = tmp_path / "home"
    home.mkdir()
    done = _autostart(home, "status")
    assert done.returncode == 0 and "not installed" in done.stdout

    done = _autostart(home, "install", "--port", "7991", "--model", str(toy_bundle))
    assert done.returncode == 0, done.stderr
    folder = home / ".config" / "systemd" / "user"
    sock, service = folder / "notabridge.socket", folder / "notabridge.service"
    assert "ListenStream=127.0.0.1:7991" in sock.read_text()
    exec_line = next(l for l in service.read_text().splitlines() if l.startswith("ExecStart="))
    assert exec_line == f"ExecStart={sys.executable} -m notabridge.cli.main serve --socket-activation --idle-exit 30 --model {toy_bundle}"
    # no user bus here: it says exactly what to run in the desktop session
    assert "no systemd user session" in done.stdout
    assert "  systemctl --user daemon-reload\n  systemctl --user enable --now notabridge.socket" in done.stdout
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(["systemd-analyze", "verify", str(sock), str(service)],
                                capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stderr

    done = _autostart(home, "status")
    assert "installed" in done.stdout and "127.0.0.1:7991" in done.stdout and "not enabled" in done.stdout

    # what `systemctl --user enable` would add is taken away too
    wants = folder / "sockets.target.wants"
    wants.mkdir()
    (wants / "notabridge.socket").symlink_to(sock)
    done = _autostart(home, "remove")
    assert done.returncode == 0, done.stderr
    assert not sock.exists() and not service.exists() and not (wants / "notabridge.socket").is_symlink()
    assert "systemctl --user daemon-reload" in done.stdout
    assert sorted(p.name for p in folder.rglob("*")) == ["sockets.target.wants"]   # nothing of ours left
    assert "nothing to remove" in _autostart(home, "remove").stdout


def test_install_refuses_a_missing_model(tmp_path):
    done = _autostart(tmp_path, "install", "--model", str(tmp_path / "nope"))
    assert done.returncode == 1 and "no model bundle folder" in done.stderr
    assert not (tmp_path / ".config").exists()


def test_unit_quotes_paths_with_spaces_and_percent():
    line = units.systemd_service_unit(["/opt/my python/bin/python", "-m", "x", "--model", "/m/50%"])
    assert 'ExecStart="/opt/my python/bin/python" -m x --model "/m/50%%"' in line


def test_launchd_agent_runs_the_daemon_at_login():
    command = units.serve_command("/usr/local/bin/python3", 7878, "/Users/a/My Model", socket_activation=False)
    plist = plistlib.loads(units.launchd_plist(command, "/Users/a/Library/Logs/notabridge.log").encode())
    assert plist["Label"] == units.LAUNCHD_LABEL and plist["RunAtLoad"] is True
    assert plist["ProgramArguments"] == ["/usr/local/bin/python3", "-m", "notabridge.cli.main", "serve",
                                         "--http-port", "7878", "--model", "/Users/a/My Model"]


def test_windows_task_runs_at_logon():
    command = units.serve_command(r"C:\Program Files\Python\pythonw.exe", 7900, None, socket_activation=False)
    args = units.schtasks_create(command)
    assert args[:2] == ["schtasks", "/Create"] and args[args.index("/SC") + 1] == "ONLOGON"
    assert args[args.index("/TR") + 1] == \
        r'"C:\Program Files\Python\pythonw.exe" -m notabridge.cli.main serve --http-port 7900'
