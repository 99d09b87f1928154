"""MuseScore 4's plugin header (NotaBridge.qml, Qt 6 imports) with the shared dialog and logic,
loaded by Qt 6's QML engine (PyQt6). MuseScore 4 itself cannot be installed here, so its plugin
root type and FileIO are stand-ins (tests/musescore4_host/); everything of NotaBridge is real."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
QtQml = pytest.importorskip("PyQt6.QtQml", reason="PyQt6 is not installed")
from PyQt6.QtCore import QUrl  # noqa: E402
from PyQt6.QtQuick import QQuickItem  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_musescore4_plugin_loads_in_qt6_and_reports_a_missing_daemon(qtbot):
    engine = QtQml.QQmlEngine()
    engine.addImportPath(str(REPO / "tests" / "musescore4_host"))
    component = QtQml.QQmlComponent(engine, QUrl.fromLocalFile(str(REPO / "musescore_plugin" / "NotaBridge.qml")))
    plugin = component.create()
    assert plugin is not None, [e.toString() for e in component.errors()]
    assert plugin.property("categoryCode") == "composing-arranging-tools"
    assert plugin.property("title") == "NotaBridge"
    panel = [c for c in plugin.findChildren(QQuickItem) if c.property("daemon") is not None][0]
    panel.setProperty("daemon", f"http://127.0.0.1:{closed_port()}")
    plugin.run.emit()
    qtbot.waitUntil(lambda: "notabridge serve" in panel.property("message"), timeout=10000)
    assert "not running" in panel.property("message")
