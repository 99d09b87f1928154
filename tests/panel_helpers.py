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


def make_window(qtbot, osc_port: int, settings_file, heartbeat_ms: int = 200):
    from PyQt6.QtCore import QSettings

    from notabridge.ui.main_window import MainWindow

    store = QSettings(str(settings_file), QSettings.Format.IniFormat)
    window = MainWindow("127.0.0.1", osc_port, store=store, heartbeat_ms=heartbeat_ms)
    qtbot.addWidget(window)
    window.show()
    return window


def osc_port_of(daemon) -> int:
    return daemon.osc_udp.server_address[1]
