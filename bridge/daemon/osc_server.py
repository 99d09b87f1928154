"""OSC front door under /notabridge/ (notabridge.daemon.osc_parse reads packets with bounded work,
python-osc builds the replies; the UDP and TCP transports are in notabridge.daemon.osc_transport).

Replies go to the sender's address and port, or, when a request ends with an extra integer
argument, to that UDP port on the sender's host (so a send-only tool such as liblo's oscsend and
a separate listener such as oscdump can hold a conversation). UDP replies stay under
LIMITS["max_udp_reply_bytes"]; whole scores travel over TCP or are fetched by job id over HTTP.
Every address and argument is listed in docs/osc.md.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable

from notabridge.jobs.request import LIMITS, RequestError
from notabridge.daemon.queue import CANCELLED, DONE, ERROR, Job, QueueFull
from notabridge.daemon.osc_parse import OscParseError, parse_packet
from notabridge.daemon.ratelimit import RateLimit, RateLimitedLog
from notabridge.daemon.osc_transport import PREFIX, Peer
from notabridge.daemon.results import compact_result_json, result_json
from notabridge.jobs.settings import SETTING_NAMES, SettingsError
from notabridge.limits import LIMITS as ALL_LIMITS

if TYPE_CHECKING:
    from notabridge.daemon.app import Daemon
    from notabridge.daemon.midi_ports import MidiBridge

log = logging.getLogger("notabridge.osc")
_limited_log = RateLimitedLog(log)
MAX_SUBSCRIBERS = 64
# what the daemon itself sends: arriving here they are another daemon's (or our own) replies, and
# answering them (even with an error) could start an endless exchange between two daemons
REPLY_ONLY = {"error", "capabilities", "prompts", "settings", "queue", "unsubscribed", "job/queued",
              "job/progress", "job/result", "job/error", "job/cancelled", "midi/status", "live/state"}


class OscRouter:
    """Handles decoded packets from any transport; knows the daemon and the settings subscribers."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._subscribers: dict[Any, Peer] = {}
        self._lock = threading.Lock()
        self.counts: Counter = Counter()   # what was dropped and why (tests and the soak bench read it)
        self._answers = RateLimit(ALL_LIMITS["replies_per_second_per_peer"], ALL_LIMITS["reply_burst_per_peer"])
        daemon.settings.subscribe(self._settings_changed)
        daemon.queue.add_queue_listener(self._queue_changed)
        self._handlers: dict[str, Callable[[Peer, list], None]] = {
            "hello": self._hello, "health": self._health, "prompts/get": self._prompts,
            "settings/get": self._settings_get, "settings/set": self._settings_set,
            "settings/subscribe": self._subscribe, "subscribe": self._subscribe,
            "settings/unsubscribe": self._unsubscribe, "unsubscribe": self._unsubscribe,
            "job/submit": self._job_submit, "job/cancel": self._job_cancel,
            "job/status": self._job_status, "job/result/get": self._job_result_get,
            "midi/record/start": self._midi_start, "midi/record/stop": self._midi_stop,
            "live/start": self._live_start, "live/stop": self._live_stop, "live/set": self._live_set,
            "live/get": self._live_get,
        }

    # ---- entry point ------------------------------------------------------------------------
    def handle_packet(self, data: bytes, sender: Peer, udp_reply: Callable[[int], Peer] | None) -> None:
        """Parse one packet (message or bundle) and answer each message; malformed packets are dropped."""
        try:
            messages = parse_packet(data)
        except OscParseError as exc:   # malformed: dropped, a fuzzer must not reach the handlers
            self.counts["malformed"] += 1
            _limited_log.log(logging.WARNING, "malformed", "dropped a malformed OSC packet of %d bytes from %s: %s",
                             len(data), _describe(sender), exc)
            return
        for address, args in messages:
            self._handle_message(address, args, sender, udp_reply)

    def _handle_message(self, address: str, args: list, sender: Peer, udp_reply: Callable[[int], Peer] | None) -> None:
        if not isinstance(address, str) or not address.startswith(PREFIX):
            return   # not for us: stay quiet rather than answer strangers
        name = address[len(PREFIX):]
        if name in REPLY_ONLY:
            self.counts["reply_only"] += 1
            return
        if self._is_own(sender):   # a reply of ours to ourselves, or a spoofed source: never answered
            self.counts["from_own_port"] += 1
            _limited_log.log(logging.WARNING, "own", "dropped %s claiming to come from this daemon's own port", address)
            return
        peer = sender
        if udp_reply is not None and _has_reply_port(name, args):
            port = int(args.pop())
            problem = (f"reply port {port} is not a UDP port (1-65535)" if not 1 <= port <= 65535 else
                       f"reply port {port} is one of this daemon's own ports; name the port your client listens on"
                       if port in self._own_ports() else None)
            if problem:
                if self._answers.allow(sender.key):
                    _safe_send(sender, PREFIX + "error", address, problem)
                return
            peer = udp_reply(port)
        if not self._answers.allow(peer.key):   # a reply storm towards one peer is cut off here
            self.counts["rate_limited"] += 1
            _limited_log.log(logging.WARNING, "storm", "more than %s requests a second answered to %s; dropping",
                             ALL_LIMITS["replies_per_second_per_peer"], _describe(peer))
            return
        if name in _FIXED_ARGS and len(args) != _FIXED_ARGS[name]:
            n = _FIXED_ARGS[name]
            _safe_send(peer, PREFIX + "error", address, f"{name} takes {n or 'no'} argument{'' if n == 1 else 's'} "
                       f"(plus an optional integer reply port), not {len(args)}; see docs/osc.md")
            return
        if name.startswith("settings/") and name[len("settings/"):] in SETTING_NAMES:
            args, name = [name[len("settings/"):], *args], "settings/set"   # /notabridge/settings/<name> value
        handler = self._handlers.get(name)
        try:
            if handler is None:
                raise RequestError(f"unknown address {address}; see docs/osc.md for the list")
            handler(peer, args)
        except (RequestError, SettingsError, QueueFull) as exc:
            _safe_send(peer, PREFIX + "error", address, str(exc))
        except Exception as exc:   # a bug answers an error and the server keeps going
            log.exception("OSC %s failed", address)
            _safe_send(peer, PREFIX + "error", address, f"internal error ({type(exc).__name__}); the daemon keeps running")

    def _own_ports(self) -> set[int]:
        ports = set()
        for server in (self.daemon.http, self.daemon.osc_udp, self.daemon.osc_tcp):
            if server is not None:
                ports.add(server.server_address[1])
        return ports

    def _is_own(self, peer: Peer) -> bool:
        return peer.kind == "udp" and peer.address[1] in self._own_ports()

    # ---- discovery --------------------------------------------------------------------------
    def _hello(self, peer: Peer, args: list) -> None:
        caps = self.daemon.capabilities()
        text = json.dumps(caps)
        if peer.kind == "udp" and len(text.encode()) > LIMITS["max_udp_reply_bytes"] - 200:
            caps["prompts_count"] = len(caps.pop("prompts", []))
            caps["prompts_note"] = "too many for one UDP datagram: page through /notabridge/prompts/get, or use TCP/HTTP"
            text = json.dumps(caps)
        peer.send(PREFIX + "capabilities", text)

    def _health(self, peer: Peer, args: list) -> None:
        peer.send(PREFIX + "health", json.dumps(self.daemon.health()))

    def _prompts(self, peer: Peer, args: list) -> None:
        start = int(args[0]) if args and _is_int(args[0]) else 0
        prompts = self.daemon.capabilities().get("prompts", [])
        page, size = [], 2
        for item in prompts[max(0, start):]:
            size += len(json.dumps(item).encode()) + 2
            if peer.kind == "udp" and size > LIMITS["max_udp_reply_bytes"] - 300:
                break
            page.append(item)
        peer.send(PREFIX + "prompts", max(0, start), len(prompts), json.dumps(page))

    # ---- settings ---------------------------------------------------------------------------
    def _settings_get(self, peer: Peer, args: list) -> None:
        peer.send(PREFIX + "settings", json.dumps(self.daemon.settings.snapshot()))

    def _settings_set(self, peer: Peer, args: list) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            try:
                changes = json.loads(args[0])
            except (ValueError, RecursionError):
                raise SettingsError('settings/set takes a JSON object string or name/value pairs') from None
        elif args and len(args) % 2 == 0 and all(isinstance(n, str) for n in args[::2]):
            changes = {n: _osc_value(n, v) for n, v in zip(args[::2], args[1::2])}
        else:
            raise SettingsError("settings/set takes a JSON object string, or name value [name value ...]")
        full = self.daemon.settings.update(changes)
        peer.send(PREFIX + "settings", json.dumps(full))

    def _subscribe(self, peer: Peer, args: list) -> None:
        with self._lock:
            self._subscribers.pop(peer.key, None)
            if len(self._subscribers) >= MAX_SUBSCRIBERS:   # forget the oldest rather than grow without end
                self._subscribers.pop(next(iter(self._subscribers)))
            self._subscribers[peer.key] = peer
        peer.send(PREFIX + "settings", json.dumps(self.daemon.settings.snapshot()))
        peer.send(PREFIX + "queue", self.daemon.queue.length())

    def _unsubscribe(self, peer: Peer, args: list) -> None:
        with self._lock:
            self._subscribers.pop(peer.key, None)
        peer.send(PREFIX + "unsubscribed")

    def _broadcast(self, address: str, *args: Any) -> None:
        with self._lock:
            peers = list(self._subscribers.items())
        for key, peer in peers:
            if not _safe_send(peer, address, *args):
                with self._lock:
                    self._subscribers.pop(key, None)

    def _settings_changed(self, full: dict, changed: list[str]) -> None:
        self._broadcast(PREFIX + "settings", json.dumps(full))

    def _queue_changed(self, length: int) -> None:
        self._broadcast(PREFIX + "queue", length)

    def forget(self, peer: Peer) -> None:
        with self._lock:
            self._subscribers.pop(peer.key, None)

    # ---- jobs -------------------------------------------------------------------------------
    def _job_submit(self, peer: Peer, args: list) -> None:
        if len(args) != 1 or not isinstance(args[0], str):
            raise RequestError("job/submit takes one string: the job as JSON (see docs/http.md for its fields)")
        if len(args[0]) > LIMITS["max_body_bytes"]:
            raise RequestError(f"the job is larger than {LIMITS['max_body_bytes']} bytes")
        try:
            request = json.loads(args[0])
        except (ValueError, RecursionError):
            raise RequestError("job/submit: the argument is not valid JSON") from None
        tag = request.get("tag", "") if isinstance(request, dict) else ""   # checked with the rest of the job
        # the listener answers /job/queued at once, then progress and exactly one end message
        self.daemon.submit(request, source=f"osc-{peer.kind}", listener=self._job_listener(peer, tag))

    def _job_listener(self, peer: Peer, tag: str) -> Callable[[Job, str], None]:
        def listener(job: Job, event: str) -> None:
            if event == "queued":
                peer.send(PREFIX + "job/queued", job.id, tag)
            elif event == "progress":
                peer.send(PREFIX + "job/progress", job.id, job.bars_done, job.bars_total,
                          -1 if job.variant is None else job.variant)
            elif event == DONE:
                self._send_result(peer, job)
            elif event == ERROR:
                peer.send(PREFIX + "job/error", job.id, job.error or "failed")
            elif event == CANCELLED:
                peer.send(PREFIX + "job/cancelled", job.id, job.error or "cancelled")
        return listener

    def _send_result(self, peer: Peer, job: Job) -> None:
        url = self.daemon.result_url(job.id)
        if peer.kind == "tcp":
            peer.send(PREFIX + "job/result", job.id, json.dumps({**result_json(job), "url": url}))
        else:
            peer.send(PREFIX + "job/result", job.id,
                      compact_result_json(job, LIMITS["max_udp_reply_bytes"] - 200 - len(job.id), url))

    def _job_arg(self, args: list) -> Job:
        if len(args) != 1 or not isinstance(args[0], str):
            raise RequestError("this address takes one string: the job id")
        job = self.daemon.queue.get(args[0])
        if job is None:
            raise RequestError(f"no job {args[0]!r}")
        return job

    def _job_cancel(self, peer: Peer, args: list) -> None:
        job = self.daemon.queue.cancel(self._job_arg(args).id)
        peer.send(PREFIX + "job/status", _status_text(peer, job))

    def _job_status(self, peer: Peer, args: list) -> None:
        peer.send(PREFIX + "job/status", _status_text(peer, self._job_arg(args)))

    def _job_result_get(self, peer: Peer, args: list) -> None:
        job = self._job_arg(args)
        if job.status != DONE:
            raise RequestError(f"job {job.id} is {job.status}, no result" + (f": {job.error}" if job.error else ""))
        self._send_result(peer, job)

    # ---- MIDI triggers ----------------------------------------------------------------------
    def _midi_start(self, peer: Peer, args: list) -> None:
        peer.send(PREFIX + "midi/status", self._midi().start_recording())

    def _midi_stop(self, peer: Peer, args: list) -> None:
        peer.send(PREFIX + "midi/status", self._midi().stop_recording())

    def _midi(self) -> MidiBridge:
        midi = self.daemon.midi
        if midi is None:
            raise RequestError("MIDI is not enabled: start the daemon with --midi-in NAME")
        return midi

    # ---- the live accompanist (notabridge.daemon.live) --------------------------------------
    def _live(self) -> Any:
        live = getattr(self._midi(), "live", None)
        if live is None:
            raise RequestError("live mode needs the MIDI ports: start the daemon with --midi-in NAME --midi-out NAME")
        return live

    def _live_start(self, peer: Peer, args: list) -> None:
        if len(args) > 1 or (args and not isinstance(args[0], str)):
            raise RequestError("live/start takes no argument or the mode: forward or echo")
        peer.send(PREFIX + "live/state", json.dumps(self._live_call(lambda live: live.arm(args[0] if args else None))))

    def _live_stop(self, peer: Peer, args: list) -> None:
        peer.send(PREFIX + "live/state", json.dumps(self._live().disarm()))

    def _live_set(self, peer: Peer, args: list) -> None:
        if not args or len(args) % 2 or not all(isinstance(n, str) for n in args[::2]):
            raise RequestError("live/set takes name value [name value ...]: mode, meter, key, voices, lookahead, take_bars")
        state = None
        for name, value in zip(args[::2], args[1::2]):
            state = self._live_call(lambda live: live.set(name, value))
        peer.send(PREFIX + "live/state", json.dumps(state))

    def _live_get(self, peer: Peer, args: list) -> None:
        peer.send(PREFIX + "live/state", json.dumps(self._live().state()))

    def _live_call(self, action: Callable[[Any], dict]) -> dict:
        from notabridge.errors import JobError

        live = self._live()
        try:
            return action(live)
        except JobError as exc:
            raise RequestError(str(exc)) from None

    def live_changed(self, state: dict) -> None:
        """The live door's state after each bar and take: to every subscriber (the panel)."""
        self._broadcast(PREFIX + "live/state", json.dumps(state))


# addresses with a fixed number of arguments; one more integer at the end is a reply port
_FIXED_ARGS = {"hello": 0, "health": 0, "settings/get": 0, "settings/subscribe": 0, "subscribe": 0,
               "settings/unsubscribe": 0, "unsubscribe": 0, "job/submit": 1, "job/cancel": 1, "job/status": 1,
               "job/result/get": 1, "midi/record/start": 0, "midi/record/stop": 0, "live/stop": 0, "live/get": 0}


def _has_reply_port(name: str, args: list) -> bool:
    """Whether the request's last argument is a reply port (an integer beyond what the address takes)."""
    n = len(args)
    if not n or not _is_int(args[-1]):
        return False
    if name in _FIXED_ARGS:
        return n == _FIXED_ARGS[name] + 1
    if name == "prompts/get":                    # prompts/get [start [reply_port]]
        return n == 2
    if name == "live/start":                     # live/start [mode [reply_port]]
        return n == 2 or isinstance(args[0], int)
    if name == "live/set":                       # live/set name value [name value ...] [reply_port]
        return n >= 3 and n % 2 == 1
    if name == "settings/set":                   # settings/set JSON [port] | name value [name value ...] [port]
        return (n == 2 and isinstance(args[0], str) and args[0].lstrip().startswith("{")) or (n >= 3 and n % 2 == 1)
    if name.startswith("settings/") and name[len("settings/"):] in SETTING_NAMES:   # settings/<name> value [port]
        return n == 2
    return False


def _describe(peer: Peer) -> str:
    return f"{peer.address[0]}:{peer.address[1]}" if hasattr(peer, "address") else peer.kind


def _status_text(peer: Peer, job: Job) -> str:
    status = job.status_json()
    if peer.kind == "udp":   # the ABC written so far can outgrow a datagram: HTTP and TCP carry it
        status.pop("partial_abc", None)
    return json.dumps(status)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _osc_value(name: str, value: Any) -> Any:
    """OSC has no null or object: prompt (and seed) may come as JSON text, e.g. "null" or '["Baroque","Bach, Johann Sebastian","Keyboard"]'."""
    if isinstance(value, float):   # OSC floats are 32-bit: 0.9 arrives as 0.8999999761581421
        return float(f"{value:.7g}")
    if isinstance(value, str) and name != "order":
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _safe_send(peer: Peer, address: str, *args: Any) -> bool:
    try:
        peer.send(address, *args)
        return True
    except Exception as exc:
        log.debug("could not send %s: %s", address, exc)
        return False
