"""Wiring: one engine, one settings object, one job queue, and the front doors around them."""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from notabridge.daemon.queue import BudgetFn, ComposeFn, Job, JobQueue
from notabridge.jobs.request import LIMITS, MODES, parse_job_request
from notabridge.jobs.settings import SETTING_RANGES, SharedSettings

if TYPE_CHECKING:   # the doors are imported when the daemon starts; the engine by whoever loads the model
    from notabridge.daemon.http_server import DaemonHTTPServer
    from notabridge.daemon.midi_ports import MidiBridge
    from notabridge.daemon.osc_server import OscRouter
    from notabridge.daemon.osc_transport import OscTcpServer, OscUdpServer
    from notabridge.engine.generation import Engine

log = logging.getLogger("notabridge.daemon")
LOOPBACK = "127.0.0.1"


@dataclass
class ServeOptions:
    listen: str = LOOPBACK
    http_port: int | None = 7878       # None: that door stays closed; 0: any free port
    http_socket: socket.socket | None = None   # listening already (systemd socket activation): used, not bound
    osc_port: int | None = 7879
    osc_tcp_port: int | None = 7880
    midi_in: str | None = None
    midi_out: str | None = None
    midi_save_dir: str | None = None
    midi_backend: Any = None            # a mido backend (module name); None: mido's default (rtmidi)
    midi_voices: int = 3                # accompaniment voices written under a recorded melody
    midi_meter: str = "4/4"             # live MIDI carries no time signature: the user says it
    midi_live: str | None = None        # arm the live accompanist at start: "forward" or "echo"
    midi_key: str = "auto"              # the live accompanist's key ("auto": estimated from the first bars)
    midi_lookahead: int | str = "auto"  # sixteenths before a bar's end at which the live door reads it
    max_queued: int = LIMITS["max_queued_jobs"]
    job_budget: BudgetFn | None = None  # None: notabridge.daemon.queue.job_budget (from the job's size)
    initial_settings: dict = field(default_factory=dict)


class Daemon:
    """Everything `notabridge serve` runs. Front doors receive this object and call its methods."""

    def __init__(self, engine: Engine, options: ServeOptions | None = None,
                 compose: ComposeFn | None = None, say: Callable[[str], None] = print) -> None:
        self.engine = engine
        self.options = options or ServeOptions()
        self.say = say
        self.settings = SharedSettings(self.options.initial_settings)
        self.queue = JobQueue(engine, compose=compose, max_queued=self.options.max_queued,
                              budget=self.options.job_budget)
        self.http: DaemonHTTPServer | None = None
        self.osc_udp: OscUdpServer | None = None
        self.osc_tcp: OscTcpServer | None = None
        self.router: OscRouter | None = None
        self.midi: MidiBridge | None = None
        self._threads: list[threading.Thread] = []

    # ---- what the front doors call ------------------------------------------------------------
    def submit(self, request: Any, source: str, listener: Callable[[Job, str], None] | None = None) -> Job:
        """Check a client's job JSON (anything may arrive) and queue it; RequestError / QueueFull say why not."""
        return self.queue.submit(parse_job_request(request, self.settings.snapshot()), source, listener)

    def health(self) -> dict:
        return {"ok": True, "model": self.model_name, "provider": self.engine.provider, "queue": self.queue.length()}

    @property
    def model_name(self) -> str:
        return str(self.engine.info.get("name") or "unnamed model")

    def capabilities(self) -> dict:
        info = dict(self.engine.info)
        prompts = info.pop("prompts", []) or []
        model = {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool)) or v is None}
        model["name"] = self.model_name
        return {"model": model, "provider": self.engine.provider, "modes": list(MODES),
                "prompts": [list(p) for p in prompts], "settings": SETTING_RANGES, "limits": LIMITS,
                "queue": self.queue.length(), "endpoints": self.endpoints()}

    def endpoints(self) -> dict:
        out: dict[str, Any] = {}
        if self.http is not None:
            out["http"] = f"http://{_url_host(self.http.server_address[0])}:{self.http.server_address[1]}/"
        if self.osc_udp is not None:
            out["osc_udp"] = self.osc_udp.server_address[1]
        if self.osc_tcp is not None:
            out["osc_tcp"] = self.osc_tcp.server_address[1]
        if self.midi is not None:
            out["midi"] = self.midi.describe()
        return out

    def result_url(self, job_id: str) -> str | None:
        base = self.endpoints().get("http")
        return f"{base}jobs/{job_id}/result" if base else None

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        from notabridge.daemon.http_server import DaemonHTTPServer
        from notabridge.daemon.osc_server import OscRouter
        from notabridge.daemon.osc_transport import OscTcpServer, OscUdpServer

        opts = self.options
        http_host = str(opts.http_socket.getsockname()[0]) if opts.http_socket is not None else opts.listen
        extra_hosts = set() if _is_loopback(http_host) else {http_host}
        try:
            if opts.http_socket is not None:
                self.http = DaemonHTTPServer((opts.listen, 0), self, extra_hosts, listening=opts.http_socket)
                self._threads.append(self.http.start())
            elif opts.http_port is not None:
                self.http = DaemonHTTPServer((opts.listen, opts.http_port), self, extra_hosts)
                self._threads.append(self.http.start())
            if opts.osc_port is not None or opts.osc_tcp_port is not None:
                self.router = OscRouter(self)
            if opts.osc_port is not None:
                self.osc_udp = OscUdpServer((opts.listen, opts.osc_port), self.router)
                self._threads.append(self.osc_udp.start())
            if opts.osc_tcp_port is not None:
                self.osc_tcp = OscTcpServer((opts.listen, opts.osc_tcp_port), self.router,
                                            self.osc_udp.socket if self.osc_udp else None)
                self._threads.append(self.osc_tcp.start())
        except OSError as exc:
            self.stop()
            raise OSError(f"cannot listen on {opts.listen}: {exc.strerror or exc} "
                          "(is another notabridge running? choose other ports with --http-port/--osc-port/--osc-tcp-port)") from exc
        if opts.midi_in or opts.midi_out:
            from notabridge.daemon.midi_ports import MidiBridge, MidiUnavailable
            try:
                self.midi = MidiBridge(self, opts.midi_in, opts.midi_out, opts.midi_save_dir, opts.midi_backend,
                                       voices=opts.midi_voices, meter=opts.midi_meter, live=opts.midi_live,
                                       live_options={"key": opts.midi_key, "lookahead": opts.midi_lookahead})
                self.midi.start()
                if self.router is not None and self.midi.live is not None:
                    self.midi.live.add_listener(self.router.live_changed)
            except MidiUnavailable as exc:   # said once; OSC and HTTP keep serving
                self.midi = None
                self.say(f"MIDI off: {exc}")

    def stop(self) -> list[Job]:
        """Cancel waiting and running jobs (their OSC clients hear it while the doors are still
        open), then close the doors; returns the jobs that were cancelled."""
        cancelled = self.queue.stop()
        for server in (self.http, self.osc_udp, self.osc_tcp):
            if server is not None:
                server.shutdown()
                server.server_close()
        if self.midi is not None:
            self.midi.stop()
        return cancelled

    def idle_seconds(self) -> float:
        """Seconds since the daemon last had something to do (an HTTP request, a job queued,
        started or ended); 0 while a job waits or runs or a MIDI door is open (a DAW may play
        at any moment). `serve --idle-exit` stops the daemon when this grows past its limit."""
        if self.queue.length() or self.midi is not None:
            return 0.0
        last = max(self.queue.last_change, self.http.last_request if self.http is not None else 0.0)
        return time.monotonic() - last

    def banner(self) -> list[str]:
        lines = [f"model: {self.model_name}", f"execution provider: {self.engine.provider}"]
        ends = self.endpoints()
        if "http" in ends:
            lines.append(f"HTTP JSON: {ends['http']}")
        if "osc_udp" in ends:
            lines.append(f"OSC over UDP: {self.options.listen}:{ends['osc_udp']} (addresses under /notabridge/)")
        if "osc_tcp" in ends:
            lines.append(f"OSC over TCP: {self.options.listen}:{ends['osc_tcp']}")
        if "midi" in ends:
            lines.append(f"MIDI: {ends['midi']}")
        return lines


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(address)).is_loopback
        except OSError:
            return False


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
