"""OSC transports: UDP datagrams and TCP streams (OSC 1.0 size-prefixed or OSC 1.1 SLIP framing,
told apart by the first byte of the connection, answered in the same framing), and the peers
replies go to. What the messages mean is notabridge.daemon.osc_server's business."""
from __future__ import annotations

import logging
import queue
import socket
import socketserver
import struct
import threading
from typing import TYPE_CHECKING, Any

from pythonosc import slip
from pythonosc.osc_message_builder import build_msg

from notabridge.limits import LIMITS

if TYPE_CHECKING:
    from notabridge.daemon.osc_server import OscRouter

log = logging.getLogger("notabridge.osc")
PREFIX = "/notabridge/"


class Peer:
    """Somewhere replies go: a UDP address or an open TCP connection."""

    kind = "?"
    key: Any = None
    alive = True

    def send(self, address: str, *args: Any) -> None:
        raise NotImplementedError


class UdpPeer(Peer):
    kind = "udp"

    def __init__(self, sock: socket.socket, address: tuple[str, int]) -> None:
        self._sock, self.address, self.key = sock, address, ("udp", address)

    def send(self, address: str, *args: Any) -> None:
        data = build_msg(address, list(args)).dgram
        if len(data) > LIMITS["max_udp_reply_bytes"]:   # never an oversized datagram: say where to look instead
            log.warning("UDP reply %s of %d bytes not sent", address, len(data))
            data = build_msg(PREFIX + "error", [address, "reply too large for UDP; use OSC over TCP or HTTP"]).dgram
        self._sock.sendto(data, self.address)


class TcpPeer(Peer):
    """One TCP connection; replies are queued and written by their own thread, so a client that
    stops reading can never block the job worker."""

    kind = "tcp"

    def __init__(self, conn: socket.socket, slip_framing: bool) -> None:
        self._conn, self._slip = conn, slip_framing
        self.key = ("tcp", id(conn))
        self._outbox: "queue.Queue[bytes | None]" = queue.Queue(maxsize=512)
        self._writer = threading.Thread(target=self._write_loop, name="notabridge-osc-tcp-writer", daemon=True)
        self._writer.start()

    def send(self, address: str, *args: Any) -> None:
        if not self.alive:
            raise ConnectionError("the TCP client has gone")
        data = build_msg(address, list(args)).dgram
        frame = slip.encode(data) if self._slip else struct.pack("!I", len(data)) + data
        try:
            self._outbox.put_nowait(frame)
        except queue.Full:
            self.close()
            raise ConnectionError("the TCP client stopped reading") from None

    def _write_loop(self) -> None:
        while True:
            frame = self._outbox.get()
            if frame is None or not self.alive:
                return
            try:
                self._conn.sendall(frame)
            except OSError:
                self.close()
                return

    def close(self) -> None:
        if self.alive:
            self.alive = False
            try:
                self._outbox.put_nowait(None)
            except queue.Full:
                pass


class _UdpHandler(socketserver.BaseRequestHandler):
    server: "OscUdpServer"

    def handle(self) -> None:
        data, sock = self.request
        host, port = self.client_address[:2]
        sender = UdpPeer(sock, (host, port))
        self.server.router.handle_packet(data, sender, lambda p: UdpPeer(sock, (host, p)))


class OscUdpServer(socketserver.UDPServer):
    """Single-threaded: handlers only validate and queue, so packets are answered in order."""

    max_packet_size = 65536

    def __init__(self, address: tuple[str, int], router: OscRouter) -> None:
        self.router = router
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _UdpHandler)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, args=(0.1,), name="notabridge-osc-udp", daemon=True)
        thread.start()
        return thread


class _TcpHandler(socketserver.BaseRequestHandler):
    server: "OscTcpServer"

    def handle(self) -> None:
        if not self.server.slots.acquire(blocking=False):   # every thread busy with a connection: hang up
            log.debug("OSC TCP: more than %d connections; closing a new one", LIMITS["osc_tcp_connections"])
            return
        try:
            self._serve()
        finally:
            self.server.slots.release()

    def _serve(self) -> None:
        conn: socket.socket = self.request
        reader = conn.makefile("rb")
        first = reader.peek(1)[:1] if hasattr(reader, "peek") else b""
        if not first:
            return
        peer = TcpPeer(conn, slip_framing=(first == slip.END))
        udp_socket, host = self.server.udp_socket, self.client_address[0]
        udp_reply = (lambda port: UdpPeer(udp_socket, (host, port))) if udp_socket is not None else None
        try:
            for frame in (_slip_frames(reader) if first == slip.END else _sized_frames(reader)):
                self.server.router.handle_packet(frame, peer, udp_reply)
        except (OSError, ValueError) as exc:
            log.debug("OSC TCP connection closed: %s", exc)
        finally:
            self.server.router.forget(peer)
            peer.close()


def _sized_frames(reader: Any):
    """OSC 1.0 stream framing: a 4-byte big-endian size before each packet."""
    limit = LIMITS["max_body_bytes"]
    while True:
        head = reader.read(4)
        if len(head) < 4:
            return
        (size,) = struct.unpack("!I", head)
        if size > limit:
            raise ValueError(f"frame of {size} bytes exceeds {limit}")
        data = reader.read(size)
        if len(data) < size:
            return
        yield data


def _slip_frames(reader: Any):
    """OSC 1.1 stream framing: SLIP (END-delimited, escaped) packets."""
    limit = LIMITS["max_body_bytes"]
    buffer = bytearray()
    while True:
        chunk = reader.read1(65536)
        if not chunk:
            return
        buffer += chunk
        while True:
            end = buffer.find(slip.END)
            if end < 0:
                break
            raw, buffer = bytes(buffer[:end]), buffer[end + 1:]
            if raw:
                try:
                    yield slip.decode(slip.END + raw + slip.END)
                except slip.ProtocolError:
                    continue   # a malformed packet is dropped, the connection stays
        if len(buffer) > limit:
            raise ValueError(f"SLIP packet exceeds {limit} bytes")


class OscTcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], router: OscRouter, udp_socket: socket.socket | None = None) -> None:
        self.router = router
        self.udp_socket = udp_socket   # replies to a named reply port leave from the UDP server's socket
        self.slots = threading.BoundedSemaphore(int(LIMITS["osc_tcp_connections"]))   # one thread each
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _TcpHandler)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, args=(0.1,), name="notabridge-osc-tcp", daemon=True)
        thread.start()
        return thread
