"""The panel's main window: shared settings on the left, the score and the variants in the
middle, the history on the right, connection / model / provider / queue in the status bar."""
from __future__ import annotations

import json
import random
from pathlib import Path

from PyQt6.QtCore import QSettings, QSize, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                             QLabel, QLineEdit, QMainWindow, QMessageBox, QProgressBar, QPushButton, QSizePolicy,
                             QSplitter, QVBoxLayout, QWidget)

from notabridge.limits import BOUNDS

from . import document
from .history import HistoryList
from .audio import AudioError, render
from .jobs import JobRunner
from .listening import ListenBar
from .live_view import LivePanel
from .osc_link import OscLink
from .player import Player, SinkFactory
from .prompt_choices import normalise
from .rerun import RerunBar
from .score_view import NEW_BAR_COLOUR, RANGE_COLOUR, ScoreView
from .settings_model import SettingsModel
from .suggestions import SuggestBox
from .variant_stats import describe, settings_line
from .variant_view import VariantBrowser, VariantItem
from .widgets import MeasureSpin, NumberControl, PromptPicker, SeedControl

MODES = ("continue", "infill", "accompany", "generate")
NOT_RUNNING = "daemon not running — start it with `notabridge serve`"
MINIMUM_SIZE = (1024, 640)   # every text fits at this size (tests/test_panel_layout.py checks)
FILE_NAME_MAX = 36


class MainWindow(QMainWindow):
    def __init__(self, host: str = "127.0.0.1", osc_port: int = 7879, store: QSettings | None = None,
                 heartbeat_ms: int = 2000, sink_factory: SinkFactory | None = None) -> None:
        super().__init__()
        self.setWindowTitle("NotaBridge panel")
        self.setMinimumSize(*MINIMUM_SIZE)
        self.store = store or QSettings("NotaBridge", "panel")
        self.link = OscLink(host, osc_port, heartbeat_ms=heartbeat_ms, parent=self)
        self.settings = SettingsModel(self.link.set_settings, parent=self)
        self.runner = JobRunner(self.link, parent=self)
        self.player = Player(self, sink_factory)
        self.score: dict | None = None        # the score being worked on (excerpt JSON of the whole file)
        self.score_path: Path | None = None
        self.last_job: dict | None = None
        self.result_context: tuple[str, int] = ("generate", 0)   # mode and range start of the variants shown
        self.result_job: tuple | None = None      # (job, settings used, start, end, staves) of the variants shown
        self._pending_result_job: tuple | None = None
        self._build_controls()
        self._build_centre()
        self._build_history()
        self._build_live()
        self._build_actions()
        self._wire()
        self._restore_state()
        self._show_connection(False)
        self._update_buttons()
        self.link.start()

    # ---- building ----------------------------------------------------------------------------
    def _build_controls(self) -> None:
        box = QWidget()
        form = QFormLayout(box)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setToolTip("continue: bars after the range · infill: rewrite the range · "
                             "accompany: write the chosen staves under the others · generate: a new piece")
        def bounded(name: str, step: float, **kw) -> NumberControl:   # the daemon's own ranges
            return NumberControl(BOUNDS[name].low, BOUNDS[name].high, step, **kw)

        self.temperature = bounded("temperature", 0.05, decimals=2)
        self.top_k = bounded("top_k", 1)
        self.top_p = bounded("top_p", 0.01, decimals=2)
        self.seed = SeedControl()
        self.variant_count = bounded("variants", 1)
        self.bars = bounded("bars", 1)
        self.order = QComboBox()
        self.order.addItems(["notagen", "standard"])
        self.order.setToolTip("notagen: top-k and top-p before temperature (as NotaGen) · standard: temperature first")
        self.range_rule = QCheckBox("Keep parts in range")
        self.range_rule.setToolTip("no note outside a part's range: its instrument's, else its given bars' "
                                   "range widened by a fifth")
        self.prompt = PromptPicker()
        form.addRow("Mode", self.mode)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-k", self.top_k)
        form.addRow("Top-p", self.top_p)
        form.addRow("Seed", self.seed)
        form.addRow("Variants", self.variant_count)
        form.addRow("Bars", self.bars)
        form.addRow("Order", self.order)
        form.addRow("", self.range_rule)
        style = QGroupBox("Style prompt")
        QVBoxLayout(style).addWidget(self.prompt)
        self.suggest = SuggestBox(self._suggest_excerpt, self.link.http_base)   # issue 18: style from the measures
        style.layout().addWidget(self.suggest)
        form.addRow(style)
        self.model_label = QLabel("model: –")
        self.model_label.setWordWrap(True)
        form.addRow(self.model_label)
        dock = QDockWidget("Shared settings", self)
        dock.setObjectName("settings_dock")
        dock.setWidget(box)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

    def _build_centre(self) -> None:
        self.open_button = QPushButton("Open…")
        self.file_label = QLabel("no score open (generate needs none)")
        self.file_label.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        self.first = MeasureSpin()
        self.last = MeasureSpin()
        for spin, tip in ((self.first, "first measure of the range, by its printed number"),
                          (self.last, "last measure of the range (included), by its printed number")):
            spin.setToolTip(tip)
        self.staves = QLineEdit()
        self.staves.setPlaceholderText("all")
        self.staves.setToolTip("staves to write, counted from 1 at the top, e.g. 2,3; accompany writes these under the others")
        self.staves.setMaximumWidth(80)
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m bars")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.play_button = QPushButton("Play")
        self.save_button = QPushButton("Save…")
        row1 = QHBoxLayout()
        row1.addWidget(self.open_button)
        row1.addWidget(self.file_label)
        row1.addStretch(1)
        row1.addWidget(self.save_button)
        range_row = QHBoxLayout()
        range_row.addWidget(QLabel("Measures"))
        range_row.addWidget(self.first)
        range_row.addWidget(QLabel("to"))
        range_row.addWidget(self.last)
        range_row.addSpacing(12)
        range_row.addWidget(QLabel("staves"))
        range_row.addWidget(self.staves)
        range_row.addStretch(1)
        row2 = QHBoxLayout()
        for w in (self.run_button, self.cancel_button):
            row2.addWidget(w)
        row2.addWidget(self.progress, 1)
        row2.addWidget(self.play_button)
        self.score_view = ScoreView("Open a MusicXML, MIDI or ABC file (Ctrl+O), or choose 'generate' and press Run (Ctrl+Enter).")
        self.browser = VariantBrowser()
        self.listen = ListenBar(self.player, self.browser, lambda: self.result_context)
        self.browser.extra_rows.addWidget(self.listen)
        self.rerun_bar = RerunBar()
        self.browser.extra_rows.addWidget(self.rerun_bar)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.score_view)
        split.addWidget(self.browser)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)   # the variants get the larger share
        split.setSizes([240, 480])
        self.message = QLabel("")
        self.message.setWordWrap(True)
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.addLayout(row1)
        layout.addLayout(range_row)
        layout.addLayout(row2)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)
        self.setCentralWidget(centre)
        self.connection_label = QLabel()
        self.queue_label = QLabel("queue: –")
        self.statusBar().addWidget(self.connection_label, 1)
        self.statusBar().addPermanentWidget(self.queue_label)

    def _build_history(self) -> None:
        self.history = HistoryList(self.store)
        dock = self.history_dock = QDockWidget("History", self)
        dock.setObjectName("history_dock")
        dock.setWidget(self.history)
        self.history.setMinimumWidth(200)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def _build_live(self) -> None:
        """The live accompanist (docs/daw.md), a tab beside the history; raised when the daemon has it."""
        self.live = LivePanel(self.link)
        dock = self.live_dock = QDockWidget("Live", self)
        dock.setObjectName("live_dock")
        dock.setWidget(self.live)
        # on stage it may be wanted large, apart from the window: it can float
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.tabifyDockWidget(self.history_dock, dock)
        self.history_dock.raise_()
        self._live_raised = False

    def _live_state(self, state: dict) -> None:
        """Once per connection, the first live state brings the Live tab to the front."""
        if not self._live_raised:
            self._live_raised = True
            self.live_dock.raise_()

    def _request_error(self, address: str, message: str) -> None:
        if "/live/" in address:
            self.live.show_error(address, message)
        else:
            self._say(f"daemon: {message}")

    def _build_actions(self) -> None:
        def action(menu, text: str, keys, slot) -> QAction:
            act = QAction(text, self)
            act.setShortcuts([QKeySequence(k) for k in (keys if isinstance(keys, (list, tuple)) else [keys])])
            act.triggered.connect(slot)
            menu.addAction(act)
            self.addAction(act)
            return act

        files = self.menuBar().addMenu("&File")
        action(files, "&Open score…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.save_action = action(files, "&Save score…", QKeySequence.StandardKey.Save, self.save_dialog)
        action(files, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        jobs = self.menuBar().addMenu("&Job")
        self.run_action = action(jobs, "&Run", ["Ctrl+Return", "Ctrl+Enter"], self.run_job)
        self.cancel_action = action(jobs, "&Cancel", "Escape", self.cancel_job)
        listen = self.menuBar().addMenu("&Listen")
        self.play_action = action(listen, "&Play / stop the score (from the range)", "Ctrl+P", self.toggle_play)
        action(listen, "Play this variant with the given bars", "Ctrl+Shift+P",
               lambda: self.listen.play(self.browser.current, True))
        action(listen, "Play this variant's new bars", "Ctrl+Alt+P", lambda: self.listen.play(self.browser.current, False))
        action(listen, "A/B: the other variant from the same bar", "Ctrl+B", self.listen.toggle_ab)
        action(listen, "Stop", "Ctrl+.", self.player.stop)
        for n in range(1, 9):
            action(jobs, f"Use variant {n}", f"Ctrl+{n}", lambda _=False, k=n: self.use_variant(k - 1))
        view = self.menuBar().addMenu("&View")
        action(view, "Next variant", "Alt+Right", self.browser.next)
        action(view, "Previous variant", "Alt+Left", self.browser.previous)
        action(view, "Larger notation", ["Ctrl++", "Ctrl+="], self.browser.zoom_in)
        action(view, "Smaller notation", "Ctrl+-", self.browser.zoom_out)
        action(view, "All variants side by side", "Ctrl+G", lambda: self.browser.set_side_by_side(not self.browser.side_by_side))
        knobs = self.menuBar().addMenu("&Settings")
        action(knobs, "Temperature up", "Ctrl+Up", lambda: self._nudge(self.temperature, +1))
        action(knobs, "Temperature down", "Ctrl+Down", lambda: self._nudge(self.temperature, -1))
        action(knobs, "Next mode", "Ctrl+M", lambda: self.mode.setCurrentIndex((self.mode.currentIndex() + 1) % len(MODES)))
        action(knobs, "Toggle seed lock", "Ctrl+L", self.seed.lock.toggle)
        live = self.menuBar().addMenu("Li&ve")
        action(live, "Arm / disarm the live accompanist", "Ctrl+Shift+L", self.live.toggle_arm)
        action(live, "Show the live section", "Ctrl+Shift+V", self.live_dock.raise_)

    def _wire(self) -> None:
        link, s = self.link, self.settings
        link.connection_changed.connect(self._show_connection)
        link.capabilities_received.connect(self._show_capabilities)
        link.settings_received.connect(s.apply_remote)
        link.queue_changed.connect(lambda n: self.queue_label.setText(f"queue: {n}"))
        link.request_error.connect(self._request_error)
        link.live_state.connect(self._live_state)
        link.connection_changed.connect(lambda up: None if up else setattr(self, "_live_raised", False))
        s.changed.connect(self._show_settings)
        self.temperature.edited.connect(lambda v: s.set("temperature", v))
        self.top_k.edited.connect(lambda v: s.set("top_k", v))
        self.top_p.edited.connect(lambda v: s.set("top_p", v))
        self.seed.edited.connect(lambda v: s.set("seed", v))
        self.variant_count.edited.connect(lambda v: s.set("variants", v))
        self.bars.edited.connect(lambda v: s.set("bars", v))
        self.order.activated.connect(lambda _: s.set("order", self.order.currentText()))
        self.range_rule.clicked.connect(lambda checked: s.set("range_rule", bool(checked)))
        self.prompt.edited.connect(lambda v: s.set("prompt", v))
        self.mode.currentIndexChanged.connect(lambda _: self._mode_changed())
        self.first.valueChanged.connect(self._range_changed)
        self.last.valueChanged.connect(self._range_changed)
        self.open_button.clicked.connect(self.open_dialog)
        self.save_button.clicked.connect(self.save_dialog)
        self.run_button.clicked.connect(self.run_job)
        self.cancel_button.clicked.connect(self.cancel_job)
        self.play_button.clicked.connect(self.toggle_play)
        self.player.state_changed.connect(lambda playing: self.play_button.setText("Stop" if playing else "Play"))
        self.runner.started.connect(lambda job_id: self._say(f"job {job_id} running…"))
        self.runner.progress.connect(self._show_progress)
        self.runner.finished.connect(self._show_result)
        self.runner.failed.connect(self._job_failed)
        self.history.restore_requested.connect(self.restore_settings)
        self.browser.use_requested.connect(self.use_variant)
        self.rerun_bar.rerun_requested.connect(self.rerun)
        self.suggest.chosen.connect(lambda prompt: (s.set("prompt", prompt), self.prompt.set_value(prompt)))

    # ---- state shown ----------------------------------------------------------------------------
    def _show_connection(self, connected: bool) -> None:
        if connected:
            caps = self.link.capabilities
            model = (caps.get("model") or {}).get("name", "?")
            self.connection_label.setText(f"connected to {self.link.target[0]}:{self.link.target[1]} · "
                                          f"model {model} · {caps.get('provider', '?')}")
        else:
            self.connection_label.setText(NOT_RUNNING)
            self.queue_label.setText("queue: –")
            if self.runner.busy:
                self.runner.cancel()
        self._update_buttons()

    def _show_capabilities(self, caps: dict) -> None:
        model = caps.get("model") or {}
        self.model_label.setText(f"model: {model.get('name', '?')}\nprovider: {caps.get('provider', '?')}")
        ranges = caps.get("settings") or {}
        for name, control in (("temperature", self.temperature), ("top_k", self.top_k), ("top_p", self.top_p),
                              ("variants", self.variant_count), ("bars", self.bars)):
            spec = ranges.get(name) or {}
            if isinstance(spec.get("min"), (int, float)) and isinstance(spec.get("max"), (int, float)):
                control.set_range(spec["min"], spec["max"])
        modes = caps.get("modes") or MODES
        for i, mode in enumerate(MODES):   # modes this daemon does not offer cannot be picked
            item = self.mode.model().item(i)
            item.setEnabled(mode in modes)
        self.prompt.set_prompts(normalise(caps.get("prompts") or []))
        self.prompt.set_value(self.settings.get("prompt"))
        self._show_connection(self.link.connected)

    def _show_settings(self, values: dict) -> None:
        self.temperature.set_value(values["temperature"])
        self.top_k.set_value(values["top_k"])
        self.top_p.set_value(values["top_p"])
        self.seed.set_value(values["seed"])
        self.variant_count.set_value(values["variants"])
        self.bars.set_value(values["bars"])
        self.order.setCurrentText(values.get("order") or "notagen")
        self.range_rule.setChecked(values.get("range_rule", True))
        self.prompt.set_value(values.get("prompt"))
        self.store.setValue("settings/last", json.dumps(values))

    def _say(self, text: str) -> None:
        self.message.setText(text)

    def _update_buttons(self) -> None:
        connected, busy = self.link.connected, self.runner.busy
        mode = self.mode.currentText()
        needs_score = mode != "generate"
        can_run = connected and not busy and (self.score is not None or not needs_score)
        self.run_button.setEnabled(can_run)
        self.run_action.setEnabled(can_run)
        self.run_button.setToolTip("Run the job (Ctrl+Enter)" if can_run else
                                   NOT_RUNNING if not connected else "a job is running" if busy else
                                   f"open a score first: {mode} works on its measures")
        self.cancel_button.setEnabled(busy)
        for w in (self.first, self.last, self.staves):
            w.setEnabled(self.score is not None and needs_score)
        has_score = self.score is not None
        self.save_button.setEnabled(has_score)
        self.save_action.setEnabled(has_score)
        playable = has_score and self.player.available
        self.play_button.setEnabled(playable)
        self.play_button.setToolTip(f"Listening is off: {self.player.reason}" if not self.player.available else
                                    "Play the score from the first measure of the range (Ctrl+P)")

    # ---- settings -----------------------------------------------------------------------------
    def restore_settings(self, values: dict) -> None:
        known = {k: v for k, v in values.items() if k in self.settings.values}
        self.settings.update(known)
        self._say("settings restored from the history")

    def _nudge(self, control: NumberControl, steps: int) -> None:
        control.slider.setValue(control.slider.value() + steps)

    # ---- files ---------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = str(self.store.value("files/last_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open a score", start, document.OPEN_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        from notabridge.notation import NotationError

        try:
            excerpt = document.load(path)
        except (NotationError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot open", str(exc)) if self.isVisible() else None
            self._say(f"cannot open {path}: {exc}")
            return False
        self.store.setValue("files/last_dir", str(Path(path).parent))
        self.score_path = Path(path)
        self._set_score(excerpt)
        self._show_file_name(self.score_path.name, str(self.score_path))
        return True

    def _show_file_name(self, name: str, tip: str = "") -> None:
        """The whole name, shortened in the middle only past FILE_NAME_MAX characters (full path in the tooltip)."""
        if len(name) > FILE_NAME_MAX:
            keep = (FILE_NAME_MAX - 1) // 2
            name = name[:keep] + "…" + name[-keep:]
        self.file_label.setText(name)
        self.file_label.setToolTip(tip)

    def _set_score(self, excerpt: dict, marked: list[int] | None = None) -> None:
        self.score = excerpt
        low, high = document.index_range(excerpt)
        for spin in (self.first, self.last):
            spin.set_measures(excerpt["measures"])
        selection = excerpt.get("selection") or {}
        self.first.setValue(max(low, min(high, selection.get("start", low))))
        self.last.setValue(max(low, min(high, selection.get("end", high + 1) - 1)))
        self._render_score(marked or [])
        self._update_buttons()

    def _mode_changed(self) -> None:
        """Generate starts from nothing: the open score keeps no range marked while it is chosen."""
        self._update_buttons()
        if self.score is not None:
            self._render_score([])
        if self.mode.currentText() == "generate" and self.score is not None:
            self._say("generate writes a new piece from the style prompt: the open score and its range are not used")

    def _range_changed(self) -> None:
        if self.last.value() < self.first.value():
            self.last.setValue(self.first.value())
        if self.score is not None:
            self._render_score([])

    def _render_score(self, marked: list[int]) -> None:
        if self.score is None:
            return
        colour = NEW_BAR_COLOUR
        if not marked and self.mode.currentText() != "generate":   # show the chosen range, in its own colour
            marked, colour = list(range(self.first.value(), self.last.value() + 1)), RANGE_COLOUR
        self.score_view.show_excerpt(self.score, marked, colour)

    def save_dialog(self) -> None:
        if self.score is None:
            return
        suggested = str(self.score_path.with_name(self.score_path.stem + "-notabridge.musicxml")) if self.score_path \
            else str(Path(str(self.store.value("files/last_dir", str(Path.home())))) / "notabridge.musicxml")
        path, _ = QFileDialog.getSaveFileName(self, "Save the score", suggested, document.SAVE_FILTER)
        if path:
            self.save_file(path)

    def save_file(self, path: str | Path) -> list[str]:
        prompt = self.settings.get("prompt")
        triple = (prompt["period"], prompt["composer"], prompt["instrumentation"]) if prompt else None
        warnings = document.save(self.score, path, prompt=triple)
        self._say(f"saved {path}" + (f" ({'; '.join(warnings)})" if warnings else ""))
        return warnings

    def toggle_play(self) -> None:
        if self.player.playing:
            self.player.stop()
        elif self.score is not None and self.player.available:
            start = self.first.value() if self.mode.currentText() != "generate" else document.index_range(self.score)[0]
            try:
                sound = render(document.measure_window(self.score, start, document.index_range(self.score)[1] + 1, 0, 0))
            except AudioError as exc:
                self._say(str(exc))
                return
            self.player.play(sound, 0.0, "score")

    # ---- jobs ----------------------------------------------------------------------------------
    def _staves(self) -> list[int] | None:
        """The staves field (counted from 1, as a musician counts) as the job's staff indices."""
        text = self.staves.text().replace(" ", "")
        if not text:
            return None
        count = len((self.score or {}).get("staves") or [])
        try:
            numbers = [int(x) for x in text.split(",") if x]
        except ValueError:
            numbers = []
        if not numbers or any(not 1 <= n <= max(count, 1) for n in numbers):
            self._say(f"staves: write staff numbers from 1 (top) to {count} separated by commas, e.g. 2,3; "
                      "all staves are used meanwhile")
            return None
        return [n - 1 for n in numbers]

    def _suggest_excerpt(self) -> dict | None:
        """The chosen measures (and staves) as a suggest request's excerpt; None without a score."""
        if self.score is None:
            return None
        return document.build_job("continue", self.score, self.first.value(), self.last.value() + 1,
                                  self._staves())["excerpt"]

    def run_job(self) -> None:
        if not self.run_button.isEnabled():
            return
        mode = self.mode.currentText()
        start, end = self.first.value(), self.last.value() + 1
        staves = self._staves()
        job = document.build_job(mode, self.score, start, end, staves)
        used = dict(self.settings.values)
        if used.get("seed") is None:   # a free seed is drawn here, so the result says which one it used
            used["seed"] = random.randrange(2**31 - 1)
        self._submit(job, used, start, end, staves)

    def rerun(self, change: dict) -> None:
        """The job of the variants shown, again, with one setting changed and all else as it was."""
        if self.result_job is None or self.runner.busy or not self.link.connected:
            self._say("wait for the running job to end (or cancel it) before running again" if self.runner.busy
                      else NOT_RUNNING if not self.link.connected else "no result to run again")
            return
        job, used, start, end, staves = self.result_job
        used = dict(used, **change)
        # the knobs show what runs; the seed stays the user's own choice (locked or free)
        self.settings.update({k: v for k, v in used.items() if k != "seed"})
        if self.settings.get("seed") is not None and "seed" in change:
            self.settings.update({"seed": used["seed"]})
        self._submit({k: v for k, v in job.items() if k != "settings"}, used, start, end, staves)
        name, value = next(iter(change.items()))
        self._say(f"running again with {name} {value}")

    def _submit(self, job: dict, used: dict, start: int, end: int, staves: list[int] | None) -> None:
        job = dict(job, settings=used)   # exactly these settings, whatever another client changes meanwhile
        self.last_job = dict(job, _start=start, _end=end, _settings=used, staves=staves)
        self._pending_result_job = (job, used, start, end, staves)
        self.progress.setRange(0, max(1, int(used.get("bars") or 1)))
        self.progress.setValue(0)
        self.runner.submit(job)
        self._say(f"{job['mode']}: sent to the daemon")
        self._update_buttons()

    def cancel_job(self) -> None:
        if self.runner.busy:
            self.runner.cancel()

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _job_failed(self, kind: str, message: str) -> None:
        self._say(f"job {kind}: {message}")
        if self.last_job:
            self.history.add(self.last_job["mode"], self.last_job["_settings"], kind)
        self.progress.setValue(0)
        self._update_buttons()

    @property
    def variants(self) -> list[VariantItem]:
        return self.browser.items

    def _show_result(self, result: dict) -> None:
        job = self.last_job or {"mode": "generate", "_end": 0, "_settings": dict(self.settings.values)}
        mode, end = job["mode"], job["_end"]
        items, problems = [], []
        for number, variant in enumerate(result.get("variants") or [], start=1):
            try:
                applied = document.apply_variant(mode, self.score, variant["excerpt"], end)
                written = job.get("staves") if mode in ("infill", "accompany") else None
                data = {k: v for k, v in variant.items() if k not in ("excerpt", "abc", "musicxml")}
                info = describe(data, applied, applied.excerpt.get("parts") or [], written)
                items.append(VariantItem(len(items) + 1, applied, info, settings_line(job["_settings"]), written, data))
            except Exception as exc:  # one unusable variant must not hide the others
                problems.append(f"variant {number}: {exc}")
        self.result_context = (mode, job.get("_start", 0))
        self.result_job = self._pending_result_job
        self.browser.set_variants(items)
        limits = {k: (v["min"], v["max"]) for k, v in (self.link.capabilities.get("settings") or {}).items()
                  if isinstance(v, dict) and isinstance(v.get("min"), (int, float)) and isinstance(v.get("max"), (int, float))}
        self.rerun_bar.set_settings(job["_settings"] if items and self.result_job else None, limits or None)
        if items:
            self.browser.setFocus()   # the arrow and number keys move between the variants at once
        self.progress.setValue(self.progress.maximum())
        text = f"{mode}: {len(items)} variant(s) in {result.get('seconds', 0):.1f} s on {result.get('provider', '?')}"
        warnings = list(result.get("warnings") or []) + problems
        self._say(text + (" — " + "; ".join(warnings) if warnings else ""))
        self.history.add(mode, job["_settings"], f"{len(items)} variant(s)", job_id=result.get("id"))
        self._update_buttons()

    def _clear_variants(self) -> None:
        self.browser.clear()
        self.rerun_bar.set_settings(None)
        self.result_job = None

    def use_variant(self, k: int) -> None:
        if 0 <= k < len(self.variants):
            applied = self.variants[k].applied
            self._set_score(applied.excerpt, applied.new_indices)
            if self.score_path is None:
                self._show_file_name("generated (not saved)")
            self._say(f"variant {k + 1} is now the score; save it with Ctrl+S")

    # ---- remembering -----------------------------------------------------------------------
    def _restore_state(self) -> None:
        geometry = self.store.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        size = self.store.value("window/size")
        # restoreGeometry shrinks a window to fit the screen it finds (offscreen: a small one)
        self.resize(size if size is not None else QSize(1280, 800))
        state = self.store.value("window/state")
        if state is not None:
            self.restoreState(state)
        else:   # first start: the history narrow, the notation wide
            self.resizeDocks([self.history_dock], [210], Qt.Orientation.Horizontal)
        self.mode.setCurrentText(str(self.store.value("job/mode", "continue")))
        try:
            last = json.loads(str(self.store.value("settings/last", "{}")))
        except ValueError:
            last = {}
        if isinstance(last, dict):   # shown until the daemon says otherwise; never sent
            self.settings.values.update({k: v for k, v in last.items() if k in self.settings.values})
        self._show_settings(self.settings.values)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.store.setValue("window/geometry", self.saveGeometry())
        self.store.setValue("window/state", self.saveState())
        self.store.setValue("window/size", self.size())
        self.store.setValue("job/mode", self.mode.currentText())
        self.store.sync()
        self.player.stop()
        self.link.close()
        super().closeEvent(event)
