"""The panel window on its own and around daemon restarts: it says how to start the daemon,
connects by itself when one appears, remembers its geometry and choices, and
`notabridge panel --screenshot` writes a PNG of the window."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("verovio")

from tests.daemon_helpers import running_daemon  # noqa: E402
from tests.panel_helpers import free_udp_port, make_window, osc_port_of  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_without_daemon_then_connects_when_it_starts_and_again_after_a_restart(qtbot, toy_bundle, tmp_path):
    from notabridge.ui.main_window import NOT_RUNNING

    port = free_udp_port()
    window = make_window(qtbot, port, tmp_path / "panel.ini", heartbeat_ms=200)
    window.link.timeout_s = 1.0
    qtbot.wait(500)
    assert window.connection_label.text() == NOT_RUNNING
    assert not window.run_button.isEnabled() and "notabridge serve" in window.run_button.toolTip()
    for round_ in range(2):
        with running_daemon(toy_bundle, osc_port=port) as daemon:
            qtbot.waitUntil(lambda: window.link.connected, timeout=5000)
            assert "toy-two-voices" in window.connection_label.text()
            # the subscription is renewed after the restart: a change over HTTP still shows up
            from tests.daemon_helpers import http_request
            http_request(daemon, "POST", "/settings", {"top_k": 30 + round_})
            qtbot.waitUntil(lambda: window.top_k.value() == 30 + round_, timeout=5000)
        qtbot.waitUntil(lambda: window.connection_label.text() == NOT_RUNNING, timeout=5000)
    window.close()


def test_window_and_choices_are_remembered(qtbot, tmp_path):
    ini = tmp_path / "panel.ini"
    window = make_window(qtbot, free_udp_port(), ini)
    window.resize(1150, 700)
    window.mode.setCurrentText("infill")
    window.history.add("continue", dict(window.settings.values, temperature=0.8), "1 variant(s)")
    window.close()
    again = make_window(qtbot, free_udp_port(), ini)
    assert (again.width(), again.height()) == (1150, 700)
    assert again.mode.currentText() == "infill"
    assert again.history.entries[0]["settings"]["temperature"] == 0.8
    assert again.history.count() == 1
    again.close()


def test_screenshot_command_writes_a_png_of_the_window(qtbot, toy_bundle, tmp_path):
    from PyQt6.QtGui import QImage

    from notabridge.notation import write_excerpt
    from tests.daemon_helpers import toy_excerpt

    ini = tmp_path / "panel.ini"
    window = make_window(qtbot, free_udp_port(), ini)
    window.resize(1100, 720)
    window.close()   # the screenshot is taken at the remembered size
    score = tmp_path / "toy.musicxml"
    write_excerpt(toy_excerpt(4), score)
    shot = tmp_path / "panel.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with running_daemon(toy_bundle) as daemon:
        done = subprocess.run([sys.executable, "-m", "notabridge.cli.main", "panel", "--screenshot", str(shot),
                               "--settings-file", str(ini), "--osc-port", str(osc_port_of(daemon)), str(score)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1100, 720)
    # not blank: a drawn window has many colours (text, notation, widgets)
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20
