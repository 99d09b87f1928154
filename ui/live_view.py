"""The panel's live section: the live accompanist's state as a musician reads it on stage
(armed / playing / stopped, the DAW's bar and tempo, the answer being written and the one ready,
margins, late bars, the take and where it is saved) and its controls (arm, disarm, mode, meter,
key, voices), over OSC `/notabridge/live/*` (docs/osc.md, docs/daw.md).

The daemon pushes `live/state` to subscribers after every bar, late bar, saved take, transport
change and control change; the section also asks for it (`live/get`) every second, four times
a second while a take runs (so the bar counter and the answer being written move on between
bars, and a lost datagram is made good at once).
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QTimer, QUrl, Qt
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea,
                             QSpinBox, QVBoxLayout, QWidget)

from .osc_link import OscLink

POLL_MS = 1000
POLL_PLAYING_MS = 250
OFF_TEXT = ("Live mode needs the daemon's MIDI ports: start it with\n"
            "notabridge serve --midi-in NAME --midi-out NAME\n(docs/daw.md, \"Live accompanist\").")
COLOURS = {"off": "#777777", "idle": "#777777", "armed": "#b36b00", "playing": "#1a7f37", "late": "#c62828"}
METERS = ("4/4", "3/4", "2/4", "6/8", "2/2", "3/8", "9/8", "12/8")


def breakable(path: str) -> str:
    """A path or file name that a word-wrapped label may break after each separator or dash
    (it has no spaces; a narrow dock would otherwise cut it)."""
    for mark in "/\\-_":
        path = path.replace(mark, mark + "\u200b")
    return path


def headline(state: dict | None) -> tuple[str, str]:
    """(text, colour kind) of the first line: what the accompanist is doing now."""
    if state is None:
        return "Live: off", "off"
    if state.get("running"):
        return f"● Playing along ({state.get('mode', '?')})", "playing"
    if state.get("armed"):
        return "Armed: press play in the DAW", "armed"
    return "Not armed", "idle"


def position(state: dict) -> str:
    bar, bpm = state.get("bar"), state.get("tempo_bpm")
    tempo = f"{bpm:.0f} bpm" if isinstance(bpm, (int, float)) and bpm > 0 else "– bpm"
    if not state.get("running"):
        return f"stopped at bar {bar} · {tempo}" if bar else ""
    return f"Bar {bar} · {tempo}" if bar else f"waiting for the clock · {tempo}"


def answer(state: dict) -> str:
    """The bar being written against the bar played, and how early the last answer was."""
    if not state.get("running"):
        return ""
    writing, ready, margin = state.get("writing_bar"), state.get("ready_bar"), state.get("margin_ms")
    bar = state.get("bar") or 0
    if writing:
        return f"writing the answer for bar {writing}…"
    if bar in (state.get("late_bars") or []):
        return f"bar {bar} has no answer: it was not ready in time"
    if ready and margin is not None:
        if ready > bar:
            return f"bar {ready} ready, {margin:.0f} ms before its downbeat"
        if ready == bar:
            return f"bar {bar}'s answer sounding (it was ready {margin:.0f} ms early)"
    first = (state.get("take") or {}).get("first_bar")
    return "listening: the first answer comes after the first bar with notes" if not first else \
        f"listening from bar {first}"


def margins(state: dict) -> str:
    if state.get("margin_p50_ms") is None:
        return ""
    parts = [f"margin median {state['margin_p50_ms']:.0f} ms, least {state['margin_min_ms']:.0f} ms"]
    if state.get("engine_ms_last") is not None:
        parts.append(f"engine {state['engine_ms_last']:.0f} ms a bar")
    if state.get("lookahead_used"):
        parts.append(f"each bar read up to {state['lookahead_used']}/16 before its end")
    return " · ".join(parts)


def late(state: dict) -> tuple[str, bool]:
    """(text, whether it is bad news) about bars skipped because they were not ready in time."""
    n, failed = int(state.get("late") or 0), int(state.get("failed") or 0)
    ready = int(state.get("bars_ready") or 0)
    if not (state.get("running") or n or failed or ready):
        return "", False
    text = f"late bars: {n}" + (f" (bar {', '.join(str(b) for b in state.get('late_bars') or [])}: skipped, "
                                 "not played late)" if n else f" of {ready + n}")
    if failed:
        text += f" · failed bars: {failed}"
    return text, bool(n or failed)


def take_text(state: dict) -> str:
    folder = state.get("folder")
    where = (breakable(folder) + (" (a temporary folder: copy what you keep)" if state.get("folder_is_temporary") else "")
             if folder else "")
    take = state.get("take")
    if take:
        first = take.get("first_bar")
        key = state.get("key_used")
        return (f"Recording a take from bar {take.get('from_bar')}"
                + (f" (melody from bar {first}" + (f", key {key}" if key else "") + ")" if first else "")
                + f", {take.get('voices')} voice(s) in {take.get('meter')}; saved at Stop in {where}")
    return f"Takes are saved in {where}" if where else ""


def last_take_text(state: dict) -> str:
    last = state.get("last_take")
    if not last:
        return ""
    if last.get("error"):
        return f"Last take: {last['error']}"
    midi = Path(last.get("midi") or "")
    files = midi.name + (" + " + Path(last["musicxml"]).suffix if last.get("musicxml") else "")
    text = f"Last take: {breakable(files)}, {last.get('bars')} bars from bar {last.get('first_bar')}, {last.get('late', 0)} late"
    if last.get("musicxml_error"):
        text += f" (no MusicXML: {last['musicxml_error']})"
    return text


class LivePanel(QScrollArea):
    """The live section; fed by `OscLink.live_state` and `show_error` (requests it made that failed)."""

    def __init__(self, link: OscLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.state: dict | None = None
        self.said = ""                   # the last refusal of one of this panel's requests, kept until the next
        self.available = False          # the daemon has the MIDI ports live mode needs
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        box = QWidget()
        layout = QVBoxLayout(box)

        def label(scale: float = 1.0, bold: bool = False) -> QLabel:
            w = QLabel("")
            w.setWordWrap(True)
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            font = w.font()
            font.setPointSizeF(font.pointSizeF() * scale)
            font.setBold(bold)
            w.setFont(font)
            layout.addWidget(w)
            return w

        self.headline = label(1.3, True)
        self.position = label(1.6, True)
        self.answer = label()
        self.margins = label()
        self.late = label()
        self.take = label()
        self.last_take = label()
        self.error = label()
        self.error.setStyleSheet(f"color: {COLOURS['late']}")
        self.arm_button = QPushButton("Arm")
        self.open_folder = QPushButton("Open takes folder")
        self.open_folder.setToolTip("show the folder the takes are saved in")
        for button in (self.arm_button, self.open_folder):   # one a row: the dock may be narrow
            row = QHBoxLayout()
            row.addWidget(button)
            row.addStretch(1)
            layout.addLayout(row)
        form = QFormLayout()
        self.mode = QComboBox()
        self.mode.addItems(["forward", "echo"])
        self.mode.setToolTip("forward: the model writes bar n+1 while you play bar n, it sounds with you · "
                             "echo: bar n is accompanied one bar late, for practice")
        self.meter = QComboBox()
        self.meter.setEditable(True)
        self.meter.addItems(METERS)
        self.meter.setToolTip("the DAW's meter (MIDI carries none); applies from the next take")
        self.key = QLineEdit("auto")
        self.key.setToolTip('the key, e.g. G, Bb, F#m; "auto" guesses it from the first bars; applies from the next take')
        self.voices = QSpinBox()
        self.voices.setRange(1, 8)
        self.voices.setToolTip("accompaniment voices, on MIDI channels 2, 3, 4, …; applies from the next take")
        form.addRow("Mode", self.mode)
        form.addRow("Meter", self.meter)
        form.addRow("Key", self.key)
        form.addRow("Voices", self.voices)
        layout.addLayout(form)
        layout.addStretch(1)
        self.setWidget(box)

        self.arm_button.clicked.connect(self.toggle_arm)
        self.open_folder.clicked.connect(self._open_folder)
        self.mode.activated.connect(lambda _: self._set("mode", self.mode.currentText()))
        self.meter.activated.connect(lambda _: self._set("meter", self.meter.currentText()))
        self.meter.lineEdit().editingFinished.connect(self._meter_typed)
        self.key.editingFinished.connect(lambda: self._set("key", self.key.text().strip() or "auto"))
        self.voices.editingFinished.connect(lambda: self._set("voices", self.voices.value()))
        link.live_state.connect(self.show_state)
        link.connection_changed.connect(lambda _: self._availability())
        link.capabilities_received.connect(lambda _: self._availability())
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.refresh)
        self._poll.start()
        self._availability()

    # ---- requests ------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.link.connected and self.available:
            self.link.send("live/get")

    def toggle_arm(self) -> None:
        if not (self.link.connected and self.available):
            return
        self.said = ""
        if self.state is not None and self.state.get("armed"):
            self.link.send("live/stop")
        else:
            self.link.send("live/start", self.mode.currentText())

    def _set(self, name: str, value) -> None:
        if self.link.connected and self.available and (self.state or {}).get(name) != value:
            self.said = ""
            self.link.send("live/set", name, value)

    def _meter_typed(self) -> None:
        if self.meter.currentText() != (self.state or {}).get("meter"):
            self._set("meter", self.meter.currentText().strip())

    def _open_folder(self) -> None:
        folder = (self.state or {}).get("folder")
        if folder:
            QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    # ---- what the daemon says --------------------------------------------------------------------
    def show_error(self, address: str, message: str) -> None:
        """A live request failed: `live/get` fails only when the daemon has no live mode."""
        if address.endswith("/live/get"):
            self.available = False
            self.state = None
            self._show(None, message)
        else:
            self.said = message
            self.error.setText(message)
            self.error.setVisible(True)

    def _availability(self) -> None:
        """Live mode exists where the daemon has MIDI ports (its capabilities name them)."""
        endpoints = self.link.capabilities.get("endpoints") or {}
        was = self.available
        self.available = bool(self.link.connected and endpoints.get("midi"))
        if not self.available:
            self.state = None
            self._show(None, OFF_TEXT if self.link.connected else "")
        elif not was:
            self.refresh()

    def show_state(self, state: dict) -> None:
        self.available = True
        self.state = state
        self._poll.setInterval(POLL_PLAYING_MS if state.get("running") else POLL_MS)
        self._show(state, "\n".join(t for t in (self.said, state.get("error")) if t))

    def _show(self, state: dict | None, error: str) -> None:
        text, kind = headline(state)
        self.headline.setText(text)
        self.headline.setStyleSheet(f"color: {COLOURS[kind]}")
        state = state or {}
        self.position.setText(position(state))
        self.answer.setText(answer(state))
        self.margins.setText(margins(state))
        late_text, bad = late(state)
        self.late.setText(late_text)
        self.late.setStyleSheet(f"color: {COLOURS['late' if bad else 'playing']}")
        self.take.setText(take_text(state))
        self.take.setToolTip(state.get("folder") or "")
        self.last_take.setText(last_take_text(state))
        self.last_take.setToolTip((state.get("last_take") or {}).get("midi") or "")
        self.error.setText(error)
        for w in (self.position, self.answer, self.margins, self.late, self.take, self.last_take, self.error):
            w.setVisible(bool(w.text()))
        armed = bool(state.get("armed"))
        self.arm_button.setText("Disarm (stops the take)" if armed else "Arm")
        self.arm_button.setToolTip("stop playing along; a take in progress is silenced and saved" if armed else
                                   "play along from the DAW's next Start (it must send MIDI clock)")
        usable = self.link.connected and self.available
        for w in (self.arm_button, self.mode, self.meter, self.key, self.voices):
            w.setEnabled(usable)
        self.open_folder.setEnabled(bool(state.get("folder")))
        if state:   # the daemon's values, except in a field being typed in
            self.mode.setCurrentText(str(state.get("mode", "forward")))
            if not self.meter.lineEdit().hasFocus():
                self.meter.setCurrentText(str(state.get("meter", "4/4")))
            if not self.key.hasFocus():
                self.key.setText(str(state.get("key", "auto")))
            if not self.voices.hasFocus():
                self.voices.setValue(int(state.get("voices", 3)))
