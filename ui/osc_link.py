"""The panel's OSC connection to the daemon (docs/osc.md).

One UDP socket, owned by a python-osc server that listens on a background thread, both sends
the requests and receives the replies (the daemon answers to the sender's address). Messages
cross into Qt through a queued signal, so every public signal fires on the GUI thread.
A heartbeat (health + subscribe every couple of seconds) notices when the daemon goes away and
reconnects by itself when it comes back.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any

from PyQt6.QtCore import QObject, QTimer, pyqtSignal
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_server import BlockingOSCUDPServer

PREFIX = "/notabridge/"


class OscLink(QObject):
    connection_changed = pyqtSignal(bool)
    capabilities_received = pyqtSignal(dict)
    health_received = pyqtSignal(dict)
    settings_received = pyqtSignal(dict)
    queue_changed = pyqtSignal(int)
    job_queued = pyqtSignal(str, str)              # id, tag
    job_progress = pyqtSignal(str, int, int, int)  # id, bars done, bars total, variant (-1: all)
    job_result = pyqtSignal(str, dict)             # id, compact result (has "url" for the full one)
    job_failed = pyqtSignal(str, str, str)         # id, "error" | "cancelled", message
    job_status = pyqtSignal(dict)                  # as GET /jobs/<id>
    request_error = pyqtSignal(str, str)           # address, message
    live_state = pyqtSignal(dict)                  # the live accompanist's state (notabridge.daemon.live)
    _arrived = pyqtSignal(str, list)               # listener thread -> GUI thread

    def __init__(self, host: str = "127.0.0.1", port: int = 7879, heartbeat_ms: int = 2000,
                 timeout_s: float = 5.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.target = (host, port)
        self.timeout_s = timeout_s
        self.connected = False
        self.capabilities: dict = {}
        self._last_heard = 0.0
        self._prompts: list = []
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._on_message_thread)
        # a loopback socket cannot reach another machine: listen on all interfaces only then
        local = "127.0.0.1" if host in ("127.0.0.1", "localhost", "::1") else "0.0.0.0"
        self._server = BlockingOSCUDPServer((local, 0), dispatcher)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="notabridge-panel-osc", daemon=True)
        self._arrived.connect(self._dispatch)
        self._heartbeat = QTimer(self)
        self._heartbeat.setInterval(heartbeat_ms)
        self._heartbeat.timeout.connect(self._beat)

    # ---- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._heartbeat.start()
        self._beat()

    def close(self) -> None:
        self._heartbeat.stop()
        if self._thread.is_alive():
            try:
                self.send("unsubscribe")
            except OSError:
                pass
            self._server.shutdown()
            self._thread.join(timeout=2)
        self._server.server_close()

    @property
    def local_port(self) -> int:
        return self._server.server_address[1]

    # ---- sending -----------------------------------------------------------------------------
    def send(self, address: str, *args: Any) -> None:
        """Send /notabridge/<address> from the listening socket (so the reply comes back to it)."""
        try:
            self._server.socket.sendto(build_msg(PREFIX + address, list(args)).dgram, self.target)
        except OSError:
            pass  # e.g. no route; the heartbeat reports the daemon as gone

    def set_settings(self, changes: dict) -> None:
        self.send("settings/set", json.dumps(changes))

    def submit_job(self, job: dict) -> None:
        self.send("job/submit", json.dumps(job))

    def cancel_job(self, job_id: str) -> None:
        self.send("job/cancel", job_id)

    def http_base(self) -> str | None:
        return (self.capabilities.get("endpoints") or {}).get("http")

    # ---- heartbeat ---------------------------------------------------------------------------
    def _beat(self) -> None:
        if self.connected and time.monotonic() - self._last_heard > self.timeout_s:
            self.connected = False
            self.connection_changed.emit(False)
        if not self.connected:
            self.send("hello")
        else:
            # subscribing is idempotent on the daemon; repeating it re-registers us after a restart
            self.send("subscribe")

    # ---- receiving ---------------------------------------------------------------------------
    def _on_message_thread(self, address: str, *args: Any) -> None:
        self._arrived.emit(address, list(args))

    def _dispatch(self, address: str, args: list) -> None:
        if not address.startswith(PREFIX):
            return
        self._last_heard = time.monotonic()
        name = address[len(PREFIX):]
        try:
            self._handle(name, args)
        except (ValueError, TypeError, IndexError, KeyError):
            pass  # a malformed reply is dropped rather than taking the panel down

    def _handle(self, name: str, args: list) -> None:
        if name == "capabilities":
            caps = json.loads(args[0])
            self._prompts = caps.get("prompts") or []
            self.capabilities = caps
            if "prompts" not in caps and caps.get("prompts_count"):
                self.send("prompts/get", 0)   # too many for one datagram: page through them
            self._became_connected()
            self.capabilities_received.emit(caps)
            self.queue_changed.emit(int(caps.get("queue", 0)))
        elif name == "prompts":
            start, total, page = int(args[0]), int(args[1]), json.loads(args[2])
            self._prompts = self._prompts[:start] + page
            if len(self._prompts) < total and page:
                self.send("prompts/get", len(self._prompts))
            else:
                self.capabilities = dict(self.capabilities, prompts=self._prompts)
                self.capabilities_received.emit(self.capabilities)
        elif name == "settings":
            self._became_connected()
            self.settings_received.emit(json.loads(args[0]))
        elif name == "health":
            info = json.loads(args[0])
            self.health_received.emit(info)
            self.queue_changed.emit(int(info.get("queue", 0)))
        elif name == "queue":
            self.queue_changed.emit(int(args[0]))
        elif name == "job/queued":
            self.job_queued.emit(str(args[0]), str(args[1]) if len(args) > 1 else "")
        elif name == "job/progress":
            self.job_progress.emit(str(args[0]), int(args[1]), int(args[2]), int(args[3]) if len(args) > 3 else -1)
        elif name == "job/result":
            self.job_result.emit(str(args[0]), json.loads(args[1]))
        elif name in ("job/error", "job/cancelled"):
            self.job_failed.emit(str(args[0]), name.split("/")[1], str(args[1]) if len(args) > 1 else "")
        elif name == "job/status":
            self.job_status.emit(json.loads(args[0]))
        elif name == "live/state":
            self.live_state.emit(json.loads(args[0]))
        elif name == "error":
            self.request_error.emit(str(args[0]), str(args[1]))

    def _became_connected(self) -> None:
        if not self.connected:
            self.connected = True
            self.connection_changed.emit(True)
            if not self.capabilities:
                self.send("hello")
            self.send("subscribe")
