"""HTTP JSON front door (for the MuseScore plugin's XMLHttpRequest), stdlib http.server only.

Safety: requests carrying a browser Origin header are refused (a web page must not drive the
daemon), as are Host headers naming anything but this machine (DNS rebinding); bodies are
bounded; no request names a file.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from notabridge.jobs.request import LIMITS, RequestError
from notabridge.daemon.queue import DONE, QueueFull
from notabridge.daemon.results import FORMATS, result_json
from notabridge.jobs.settings import SettingsError

if TYPE_CHECKING:
    from notabridge.daemon.app import Daemon

log = logging.getLogger("notabridge.http")
_JOB_PATH = re.compile(r"^/jobs/([A-Za-z0-9-]{1,64})(/result|/cancel)?$")
SUGGEST_WAIT_S = 60      # a suggest job takes about a second once it runs; the queue may hold others
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class HttpError(Exception):
    def __init__(self, status: int, message: str, extra: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra or {}


def host_is_allowed(host_header: str | None, extra_hosts: set[str], any_address: bool = False) -> bool:
    """True for a missing Host, loopback names/addresses, the address the daemon was told to listen
    on, and (when it listens beyond loopback) any IP address: DNS rebinding always comes with a name."""
    if host_header is None:
        return True
    host = host_header.strip().lower()
    if host.startswith("["):                     # [::1]:7878
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:                   # name:port
        host = host.split(":", 1)[0]
    if host in _LOCAL_HOSTS or host in extra_hosts:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or any_address


class _Handler(BaseHTTPRequestHandler):
    server: "DaemonHTTPServer"
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"   # even an unparsable request line gets a status line back
    timeout = 15            # a client that stops sending mid-request frees its thread
    server_version = "notabridge"
    _body: bytes | None = None

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:   # CORS preflight: refused like every request from a web page
        self._dispatch("OPTIONS")

    def _dispatch(self, method: str) -> None:
        self.server.last_request = time.monotonic()
        try:
            self._check_caller()
            self._body = self._read_body()
            status, body = self._route(method)
        except HttpError as exc:
            status, body = exc.status, {"error": exc.message, **exc.extra}
        except Exception as exc:  # a bug answers 500 and the server keeps going
            log.exception("HTTP %s %s failed", method, self.path)
            status, body = 500, {"error": f"internal error ({type(exc).__name__}); the daemon keeps running"}
        self._send(status, body)

    def _check_caller(self) -> None:
        if self.headers.get("Origin") is not None:
            self.close_connection = True
            raise HttpError(403, "requests from web pages (an Origin header) are refused: "
                                 "only local programs such as the MuseScore plugin may use this daemon")
        if not host_is_allowed(self.headers.get("Host"), self.server.extra_hosts, bool(self.server.extra_hosts)):
            self.close_connection = True
            raise HttpError(403, "the Host header does not name this machine (possible DNS rebinding); "
                                 "use http://127.0.0.1:<port>/")

    def _route(self, method: str) -> tuple[int, Any]:
        daemon = self.server.daemon
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        if path == "/health" and method == "GET":
            return 200, daemon.health()
        if path == "/capabilities" and method == "GET":
            return 200, daemon.capabilities()
        if path == "/settings":
            if method == "GET":
                return 200, daemon.settings.snapshot()
            if method == "POST":
                try:
                    return 200, daemon.settings.update(self._json_body())
                except SettingsError as exc:
                    raise HttpError(400, str(exc)) from None
        if path == "/jobs" and method == "POST":
            try:
                job = daemon.submit(self._json_body(), source="http")
            except RequestError as exc:
                raise HttpError(400, str(exc)) from None
            except QueueFull as exc:
                raise HttpError(503, str(exc), {"status": "busy"}) from None
            return 202, {"id": job.id, "status": job.status}
        if path == "/suggest" and method == "POST":
            return self._suggest()
        match = _JOB_PATH.match(path)
        if match:
            return self._job_route(method, match.group(1), match.group(2), url.query)
        if path in ("/health", "/capabilities", "/settings", "/jobs", "/suggest") or match:
            raise HttpError(405, f"{method} is not allowed on {path}; see docs/http.md")
        raise HttpError(404, f"no such endpoint {path!r}; see docs/http.md "
                             "(/health, /capabilities, /settings, /jobs, /jobs/<id>, /jobs/<id>/result, /jobs/<id>/cancel, /suggest)")

    def _suggest(self) -> tuple[int, Any]:
        """A suggest job (the style prompts that fit the excerpt's selection) run through the
        queue like any job, answered in this request once done."""
        body = self._json_body()
        if not isinstance(body, dict):
            raise HttpError(400, 'send {"excerpt": {...}} with the excerpt\'s selection set')
        try:
            job = self.server.daemon.submit({**body, "mode": "suggest"}, source="http")
        except RequestError as exc:
            raise HttpError(400, str(exc)) from None
        except QueueFull as exc:
            raise HttpError(503, str(exc), {"status": "busy"}) from None
        job = self.server.daemon.queue.wait(job.id, timeout=SUGGEST_WAIT_S)
        if job.status != DONE:
            raise HttpError(409 if job.error else 504, f"suggest job {job.id} is {job.status}"
                            + (f": {job.error}" if job.error else "; poll /jobs/<id> for its result"),
                            {"id": job.id, "status": job.status})
        return 200, result_json(job, formats=())

    def _job_route(self, method: str, job_id: str, action: str | None, query: str) -> tuple[int, Any]:
        daemon = self.server.daemon
        job = daemon.queue.get(job_id)
        if job is None:
            raise HttpError(404, f"no job {job_id!r} (finished jobs are kept for a while, then forgotten)")
        if action is None and method == "GET":
            return 200, job.status_json()
        if action == "/cancel" and method == "POST":
            job = daemon.queue.cancel(job_id)
            return 200, {"id": job.id, "status": job.status}
        if action == "/result" and method == "GET":
            if job.status != DONE:
                raise HttpError(409, f"job {job_id} is {job.status}, no result"
                                     + (f": {job.error}" if job.error else "; poll /jobs/<id> until it is done"),
                                {"id": job.id, "status": job.status})
            return 200, result_json(job, _formats(query))
        raise HttpError(405, f"{method} is not allowed here; see docs/http.md")

    def _read_body(self) -> bytes | None:
        """The whole body of every request, read before routing whatever the handler needs: a body
        left unread on a kept-alive connection would be parsed as the next request's first line.
        None when the request has no Content-Length. What cannot be read whole closes the connection."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HttpError(411, "send the body with a Content-Length, not chunked")
        header = self.headers.get("Content-Length")
        if header is None:
            return None
        try:
            length = int(header)
        except ValueError:
            self.close_connection = True
            raise HttpError(400, f"the Content-Length header {header!r} is not a number") from None
        if length < 0 or length > LIMITS["max_body_bytes"]:
            self.close_connection = True
            raise HttpError(413, f"the body is {length} bytes; the limit is {LIMITS['max_body_bytes']}")
        try:
            raw = self.rfile.read(length)
        except OSError:   # the client stopped sending before the end of its body
            self.close_connection = True
            raise HttpError(408, "the body ended before its Content-Length; send it whole") from None
        if len(raw) < length:
            self.close_connection = True
            raise HttpError(400, f"the body has {len(raw)} of the {length} bytes its Content-Length announced")
        return raw

    def _json_body(self) -> Any:
        if self._body is None:
            raise HttpError(411, "a POST needs a Content-Length header and a JSON body")
        try:
            return json.loads(self._body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):   # RecursionError: nested ~1,000 deep
            raise HttpError(400, "the body is not valid UTF-8 JSON (or nests too deep)") from None

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:   # the client hung up; nothing to tell it
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # malformed request lines and headers get a JSON error like everything else; what the
        # client sent wrong is never a server error (5xx): an unknown method is 405, an HTTP
        # version other than 1.x is 400
        self.close_connection = True
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code, message = 405, f"method {self.command!r} is not allowed (GET, POST, PUT, DELETE, OPTIONS)"
        elif code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code, message = 400, "send HTTP/1.1 (or 1.0)"
        self._send(code, {"error": f"{message or HTTPStatus(code).phrase}; see docs/http.md"})


def _formats(query: str) -> tuple[str, ...]:
    wanted = parse_qs(query).get("formats")
    if not wanted:
        return FORMATS
    names = tuple(f for f in ",".join(wanted).split(",") if f)
    bad = [f for f in names if f not in FORMATS]
    if bad:
        raise HttpError(400, f"unknown formats {bad}; choose from {list(FORMATS)}")
    return names


def address_family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class DaemonHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], daemon: Daemon, extra_hosts: set[str] | None = None,
                 listening: socket.socket | None = None) -> None:
        """`listening`: a socket already bound and listening (handed over by systemd), used instead
        of binding `address`."""
        self.daemon = daemon
        self.last_request = time.monotonic()   # --idle-exit reads it
        self.extra_hosts = {h.lower() for h in (extra_hosts or set())}
        if listening is None:
            self.address_family = address_family(address[0])
            super().__init__(address, _Handler)
            return
        self.address_family = listening.family
        super().__init__(address, _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listening
        self.server_address = listening.getsockname()
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, args=(0.1,), name="notabridge-http", daemon=True)
        thread.start()
        return thread
