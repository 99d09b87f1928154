"""Helpers for the panel tests: the panel's main window against a real daemon (the toy bundle of
tests/engine_helpers.py, every door on a free port), with its QSettings in a temporary file."""
from __future__ import annotations

import os
import socket


os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_window(qtbot, osc_port: int, settings_file, heartbeat_ms: int = 200, sink_factory=None):
    from PyQt6.QtCore import QSettings

    from notabridge.ui.main_window import MainWindow

    store = QSettings(str(settings_file), QSettings.Format.IniFormat)
    window = MainWindow("127.0.0.1", osc_port, store=store, heartbeat_ms=heartbeat_ms, sink_factory=sink_factory)
    qtbot.addWidget(window)
    window.show()
    return window


def on_screen(widget) -> bool:
    """Whether some of the widget can be seen (a dock in a tab behind another stays "visible" to Qt)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def osc_port_of(daemon) -> int:
    return daemon.osc_udp.server_address[1]


PROMPT = {"period": "Baroque", "composer": "Bach, Johann Sebastian", "instrumentation": "Choral"}


class RecordingSink:
    """Stands in for the sound card (none here): keeps the PCM the panel sends to it."""
    made: list["RecordingSink"] = []

    def __init__(self, rate: int, channels: int) -> None:
        self.rate, self.channels = rate, channels
        self.data = b""
        self.stopped = False
        self.usecs = 0          # how far the "device" has played; tests move it on
        RecordingSink.made.append(self)

    def start(self, device) -> None:
        self.data = bytes(device.readAll())

    def stop(self) -> None:
        self.stopped = True

    def processedUSecs(self) -> int:  # noqa: N802 (Qt's name)
        return self.usecs


def open_toy_score(window, tmp_path, bars: int = 4) -> None:
    """Write the toy two-staff excerpt as MusicXML and open it in the panel, as a user would."""
    from notabridge.notation import write_excerpt
    from tests.daemon_helpers import toy_excerpt

    source = tmp_path / "toy.musicxml"
    write_excerpt(toy_excerpt(bars), source)
    assert window.open_file(source)


def wait_for_variants(window, qtbot, count: int, timeout: int) -> None:
    qtbot.waitUntil(lambda: len(window.variants) == count or "job error" in window.message.text(), timeout=timeout)
    assert len(window.variants) == count, window.message.text()


def daemon_settings(daemon) -> dict:
    from tests.daemon_helpers import http_request

    status, body = http_request(daemon, "GET", "/settings")
    assert status == 200
    return body


def continue_job_on_toy_score(window, daemon, qtbot, tmp_path, variants: int, bars: int = 2) -> None:
    """The toy score open, a continue job from its first four measures set up with `variants`
    variants of `bars` bars, and the daemon's shared settings showing them."""
    open_toy_score(window, tmp_path)
    window.mode.setCurrentText("continue")
    window.first.setValue(window.first.minimum())
    window.last.setValue(window.first.minimum() + 3)
    window.variant_count.spin.setValue(variants)
    window.bars.spin.setValue(bars)
    qtbot.waitUntil(lambda: daemon_settings(daemon)["variants"] == variants and daemon_settings(daemon)["bars"] == bars,
                    timeout=5000)
