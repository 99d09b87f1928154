"""The panel's Live tab against a real daemon with the live accompanist (the embedded model, the
MIDI door on the in-memory port backend of tests/daemon_midi_backend.py, the only stand-in: this
machine has no OS MIDI service). A DAW thread plays a Bach chorale soprano with MIDI clock in
real time; the musician arms from the panel, watches the bar counter, the answer being written
and the one ready, a late bar, and finds the saved take; all through OSC as the panel does it.

The late bar is certain, not left to the machine's load: the engine's next bar is held (a gate
around the real session) from one cut until after its downbeat, and the DAW waits, mid-bar,
until the panel shows that bar being written (a DAW's tempo may change: the door follows it).
"""
from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("verovio")

from PyQt6.QtCore import Qt  # noqa: E402
from pytestqt.exceptions import TimeoutError as QtTimeout  # noqa: E402

from notabridge.engine.bundle import DEFAULT_BUNDLE  # noqa: E402
from tests import daemon_midi_backend as fake_os  # noqa: E402
from tests.daemon_helpers import http_request, running_daemon  # noqa: E402
from tests.live_helpers import Gate, chorale_soprano, performance  # noqa: E402
from tests.panel_helpers import on_screen, osc_port_of  # noqa: E402  (also: Qt offscreen before the QApplication)

pytestmark = pytest.mark.skipif(not (DEFAULT_BUNDLE / "config.json").is_file(), reason="no embedded model")
BAR = 96            # clock ticks in a 4/4 bar
LOOKAHEAD = 8       # sixteenths: each bar is cut at its half (1 s at 120 bpm), far more than a bar's engine time


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """This module's daemon (the `window` fixture connects to it): MIDI ports and live mode."""
    takes = tmp_path_factory.mktemp("takes")
    with running_daemon(DEFAULT_BUNDLE, midi_in="DAW out", midi_out="Synth in", midi_save_dir=str(takes),
                        midi_backend="tests.daemon_midi_backend", midi_lookahead=LOOKAHEAD) as d:
        yield d


def type_into(qtbot, field, text: str) -> None:
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)
    field.clearFocus()


def test_arm_play_watch_the_bars_a_late_bar_and_the_saved_take(window, daemon, qtbot):
    live, door = window.live, daemon.midi.live
    http_request(daemon, "POST", "/settings", {"seed": 3})
    qtbot.waitUntil(lambda: live.state is not None, timeout=10000)
    qtbot.waitUntil(lambda: on_screen(live) and not on_screen(window.history), timeout=2000)   # the Live tab in front
    assert live.headline.text() == "Not armed" and live.arm_button.text() == "Arm"
    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    type_into(qtbot, live.key, key)
    qtbot.waitUntil(lambda: door.options.key == key, timeout=5000)

    gates = []

    def gated(*args, **kwargs):
        from notabridge.engine.live_session import LiveSession

        gates.append(Gate(LiveSession(*args, **kwargs)))
        gates[-1].opened.set()
        return gates[-1]

    door._session_factory = gated      # the door's own seam (LiveDoor(session_factory=...)), set before it is armed
    qtbot.mouseClick(live.arm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: door.armed and live.headline.text() == "Armed: press play in the DAW", timeout=5000)
    assert live.arm_button.text().startswith("Disarm")
    assert door.wait_idle(120)                                      # warmed up
    assert str(door.folder) in live.take.text().replace("\u200b", "")

    # bar 5 (1-based) is the held one: cut at the middle of bar 4, due at bar 5's downbeat
    hold_from, due = 4 * BAR - LOOKAHEAD * 6, 4 * BAR
    perf = performance(notes[:22], upbeat, meter, 120, end_bars=1)
    seen: dict[str, str] = {}
    shown_writing = threading.Event()

    def daw() -> None:
        start, pulse = time.monotonic() + 0.05, 0
        for at, message in perf.events:
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if message.type == "clock":
                if pulse == hold_from:
                    gates[-1].opened.clear()
                if pulse == hold_from + 12:             # mid-bar, the engine held: wait for the panel
                    paused = time.monotonic()
                    shown_writing.wait(30)
                    start += time.monotonic() - paused
                if pulse == due + 6:
                    gates[-1].opened.set()
                pulse += 1
            fake_os.daw_sends("DAW out", message)

    player = threading.Thread(target=daw, name="test-daw")
    player.start()
    try:
        qtbot.waitUntil(lambda: live.headline.text().startswith("● Playing along (forward)"), timeout=5000)
        assert "Recording a take from bar 1" in live.take.text()

        def ready_shown() -> bool:   # "Bar n" playing with the answer for bar n+1 ready, as in the daemon
            if live.position.text().startswith("Bar 2") and "bar 3 ready" in live.answer.text():
                seen["ready"] = live.answer.text()
            return "ready" in seen

        qtbot.waitUntil(ready_shown, timeout=10000)
        qtbot.waitUntil(lambda: live.answer.text() == "writing the answer for bar 5…", timeout=10000)
        assert live.position.text().startswith("Bar 4")
        shown_writing.set()
        qtbot.waitUntil(lambda: live.late.text().startswith("late bars: 1 (bar 5: skipped"), timeout=10000)
        qtbot.waitUntil(lambda: not player.is_alive(), timeout=60000)
    finally:
        shown_writing.set()
        for gate in gates:
            gate.opened.set()
        player.join(60)
    assert door.wait_idle(120)
    state = door.state()
    assert state["late"] == 1 and state["late_bars"] == [5] and state["bars_ready"] >= 4, state
    qtbot.waitUntil(lambda: live.last_take.text().startswith("Last take:"), timeout=5000)
    assert live.headline.text() == "Armed: press play in the DAW"
    assert live.position.text().startswith(f"stopped at bar {state['bar']}")
    midi = door.last_take["midi"]
    assert live.last_take.toolTip() == midi and midi.startswith(str(door.folder))
    shown = live.last_take.text().replace("\u200b", "")
    assert f"{door.last_take['bars']} bars from bar 1, 1 late" in shown and midi.rsplit("/", 1)[1] in shown
    assert "margin median" in live.margins.text() and f"{state['margin_min_ms']:.0f} ms" in live.margins.text()
    assert live.late.styleSheet().endswith("#c62828")               # the late bar in red
    # every line of the tab fits at the window's smallest size (file names and paths wrap)
    from tests.test_panel_layout import cut_texts

    window.resize(window.minimumSize())
    try:
        qtbot.waitUntil(lambda: not cut_texts(window), timeout=3000)
    except QtTimeout:
        pass   # said with the details below
    assert not cut_texts(window), "\n".join(cut_texts(window))

    qtbot.mouseClick(live.arm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not door.armed and live.headline.text() == "Not armed", timeout=5000)
    door._session_factory = None


def test_live_settings_go_to_the_daemon_and_a_wrong_key_is_said_in_the_live_tab(window, daemon, qtbot):
    live, door = window.live, daemon.midi.live
    qtbot.waitUntil(lambda: live.state is not None, timeout=10000)
    live.mode.setCurrentText("echo")
    live.mode.activated.emit(live.mode.currentIndex())          # what a user's choice in the list emits
    type_into(qtbot, live.voices.lineEdit(), "2")
    qtbot.waitUntil(lambda: door.options.mode == "echo" and door.options.voices == 2, timeout=5000)
    type_into(qtbot, live.key, "H")
    qtbot.waitUntil(lambda: 'key must be a key such as "G"' in live.error.text(), timeout=5000)
    assert live.error.isVisible() and door.options.key != "H"
    assert 'key must be' not in window.message.text()              # said where the key was typed
    # another client's change shows up in the panel
    from tests.daemon_helpers import OscUdpClient

    other = OscUdpClient(osc_port_of(daemon))
    other.send("/notabridge/live/set", "mode", "forward", "voices", 3)
    other.receive("/notabridge/live/state")
    other.close()
    qtbot.waitUntil(lambda: live.mode.currentText() == "forward" and live.voices.value() == 3, timeout=5000)
