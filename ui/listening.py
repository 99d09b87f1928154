"""Listening to variants before choosing one: a variant's new bars alone, or with the given bars
before them, and A/B: the other variant from the same bar, so the two are heard from the same
start. Keys on the variants: Space (with the given bars / stop), B (A/B)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QKeySequence, QShortcut
from PyQt6.QtWidgets import QLabel, QPushButton, QWidget

from . import audio, document
from .flow_layout import FlowLayout
from .player import Player
from .variant_view import VariantBrowser, VariantItem

LEAD_IN_MAX = 8        # continue: at most this many given bars before the new ones
LEAD_IN_OTHER = 4      # infill / accompany: bars before the new ones
INFILL_AFTER = 2       # infill: bars after, to hear it lead into what follows


@dataclass(frozen=True)
class Passage:
    variant: int       # index in the browser
    start: int         # measure indices, end exclusive
    end: int
    with_given: bool


def passage_bounds(item: VariantItem, mode: str, range_start: int, with_given: bool) -> tuple[int, int]:
    """Measure indices (start, end exclusive) to play for a variant: its new bars, or the given
    bars (the chosen range for continue, a few bars before otherwise) plus its new bars."""
    new_start, new_end = min(item.applied.new_indices), max(item.applied.new_indices) + 1
    indices = [m["index"] for m in item.applied.excerpt["measures"]]
    if not with_given or mode == "generate":
        return new_start, new_end
    if mode == "continue":
        start = max(range_start, new_start - LEAD_IN_MAX)
    else:
        start = new_start - LEAD_IN_OTHER
    end = new_end + (INFILL_AFTER if mode == "infill" else 0)
    return max(start, indices[0]), min(end, indices[-1] + 1)


def printed(excerpt: dict, start: int, end: int) -> str:
    numbers = {m["index"]: m.get("number", m["index"] + 1) for m in excerpt["measures"]}
    first, last = numbers.get(start, start + 1), numbers.get(end - 1, end)
    return f"bar {first}" if first == last else f"bars {first}–{last}"


class ListenBar(QWidget):
    """Play / A/B / stop for the variants in a browser; `context()` gives (mode, range start)."""

    def __init__(self, player: Player, browser: VariantBrowser, context: Callable[[], tuple[str, int]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.player, self.browser, self.context = player, browser, context
        self.partner: int | None = None    # the variant A/B goes to
        self.passage: Passage | None = None
        self._cache: dict[tuple, audio.Audio] = {}
        self.with_given_button = QPushButton("▶ With given bars")
        self.with_given_button.setToolTip("Play the given bars, then this variant's new bars (Space on the variants)")
        self.alone_button = QPushButton("▶ New bars")
        self.alone_button.setToolTip("Play only this variant's new bars")
        self.ab_button = QPushButton("A/B")
        self.ab_button.setToolTip("Switch to the other variant, from the same bar (B on the variants, Ctrl+B anywhere)")
        self.stop_button = QPushButton("■ Stop")
        self.status = QLabel("")
        layout = FlowLayout(self)
        for button in (self.with_given_button, self.alone_button, self.ab_button, self.stop_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            layout.addWidget(button)
        layout.addWidget(self.status)
        self.with_given_button.clicked.connect(lambda: self.play(self.browser.current, True))
        self.alone_button.clicked.connect(lambda: self.play(self.browser.current, False))
        self.ab_button.clicked.connect(self.toggle_ab)
        self.stop_button.clicked.connect(self.player.stop)
        for keys, slot in (("Space", self.toggle_play), ("B", self.toggle_ab)):
            shortcut = QShortcut(QKeySequence(keys), browser)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        browser.play_requested.connect(lambda k: self.play(k, True))
        browser.cleared.connect(self._forget)
        browser.current_changed.connect(lambda _: self.update_controls())
        player.state_changed.connect(lambda _: self.update_controls())
        self.update_controls()

    # ---- actions -------------------------------------------------------------------------------
    def play(self, k: int, with_given: bool) -> bool:
        if not self.player.available or not 0 <= k < len(self.browser.items):
            return False
        item = self.browser.items[k]
        mode, range_start = self.context()
        start, end = passage_bounds(item, mode, range_start, with_given)
        try:
            sound = self.sound(item, start, end)
        except audio.AudioError as exc:
            self.status.setText(str(exc))
            return False
        if self.passage is not None and self.passage.variant != k:
            self.partner = self.passage.variant    # A/B goes back to the one heard before
        self.passage = Passage(k, start, end, with_given)
        self.player.play(sound, 0.0, self.passage)
        self.status.setText(f"▶ variant {item.number}, {printed(item.applied.excerpt, start, end)}")
        return True

    def toggle_play(self) -> None:
        if self.player.playing:
            self.player.stop()
        else:
            self.play(self.browser.current, True)

    def toggle_ab(self) -> None:
        """Hear the other variant from the same start: the one heard before, else the next."""
        items = self.browser.items
        if len(items) < 2:
            return
        current = self.passage.variant if self.passage is not None else self.browser.current
        other = self.partner if self.partner is not None and self.partner != current else (current + 1) % len(items)
        with_given = self.passage.with_given if self.passage is not None else True
        self.browser.show_variant(other)   # see what is heard
        self.play(other, with_given)

    def sound(self, item: VariantItem, start: int, end: int) -> audio.Audio:
        key = (id(item.applied), start, end)
        if key not in self._cache:
            self._cache[key] = audio.render(document.measure_window(item.applied.excerpt, start, end, 0, 0))
        return self._cache[key]

    def _forget(self) -> None:
        self.player.stop()
        self._cache.clear()
        self.passage, self.partner = None, None
        self.status.setText("")
        self.update_controls()

    def update_controls(self) -> None:
        has = bool(self.browser.items) and self.player.available
        for button in (self.with_given_button, self.alone_button):
            button.setEnabled(has)
            button.setToolTip(button.toolTip() if self.player.available else f"Listening is off: {self.player.reason}")
        self.ab_button.setEnabled(has and len(self.browser.items) > 1)
        self.stop_button.setEnabled(self.player.playing)
        if not self.player.playing and self.passage is not None and self.status.text().startswith("▶"):
            self.status.setText("")
