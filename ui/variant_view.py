"""The variants of a result: one at a time at a readable size (zoom, keys to move between them),
or all side by side on demand; the new bars in colour, a line of numbers about each.

Keys while the variants have the focus: Left / Right (previous / next), Home / End, 1…8 (that
variant), + / - (zoom), G (all side by side), Enter (use this variant)."""
from __future__ import annotations

from dataclasses import dataclass, field

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QButtonGroup, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                             QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from . import document
from .flow_layout import FlowLayout
from .score_view import ScoreView
from .variant_stats import EXPLAINED

VIEW_MARGIN = 2        # measures shown around the new ones
CARD_MARGIN = 0        # side by side: only the new bars (the context is the same for all), so they are in view
GRID_COLUMNS = 4       # side by side: at most this many variants in a row
CARD_MIN_WIDTH = 230   # side by side: fewer columns rather than narrower cards
SIDE_BY_SIDE_ZOOM = 0.75   # a measure of four staves fits a card at the smallest window size


@dataclass
class VariantItem:
    number: int                          # 1-based, as shown
    applied: document.Applied            # the score with this variant's bars in it
    info: str = ""                       # the numbers about it, one line (rich text)
    settings: str = ""                   # the settings that made it (the same for a whole result)
    staves: list[int] | None = None      # the staves it wrote (coloured), None: whole measures
    data: dict = field(default_factory=dict)   # the daemon's variant entry, less the notation

    def shown_excerpt(self, before: int = VIEW_MARGIN, after: int = VIEW_MARGIN) -> dict:
        start, end = min(self.applied.new_indices), max(self.applied.new_indices) + 1
        return document.measure_window(self.applied.excerpt, start, end, before, after)


class _Card(QWidget):
    """One variant in the side-by-side grid: its title (click: show it alone), its notation."""

    def __init__(self, item: VariantItem, browser: "VariantBrowser") -> None:
        super().__init__()
        self.item = item
        self.title = title = QPushButton(f"Variant {item.number}")
        title.setFlat(True)
        title.setToolTip(f"Show variant {item.number} alone ({item.number})")
        title.clicked.connect(lambda: browser.show_alone(item.number - 1))
        title.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play = QPushButton("▶")
        self.play.setToolTip(f"Hear variant {item.number} after the given bars")
        self.play.clicked.connect(lambda: browser.play_requested.emit(item.number - 1))
        self.play.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        use = QPushButton("Use")
        use.setToolTip(f"Make variant {item.number} the score (Ctrl+{item.number})")
        use.clicked.connect(lambda: browser.use_requested.emit(item.number - 1))
        use.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.info = info = QLabel(item.info)
        info.setWordWrap(True)
        info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.view = ScoreView()
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view.setMinimumHeight(180)
        self.view.zoom = SIDE_BY_SIDE_ZOOM
        top = QHBoxLayout()
        top.addWidget(title, 1)
        top.addWidget(self.play)
        top.addWidget(use)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(info)
        layout.addWidget(self.view, 1)

    def draw(self) -> None:
        self.view.show_excerpt(self.item.shown_excerpt(CARD_MARGIN, 0), self.item.applied.new_indices,
                               staves=self.item.staves)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        # in a scrolled grid the layout does not ask a wrapped label for its height: tell it
        self.info.setMinimumHeight(self.info.heightForWidth(max(1, self.info.width())))

    def mark_current(self, current: bool) -> None:
        colour = "color: #c0392b; text-decoration: underline; " if current else ""
        self.title.setStyleSheet(f"{colour}font-weight: bold; text-align: left")


class VariantBrowser(QWidget):
    use_requested = pyqtSignal(int)        # index of the variant to make the score
    current_changed = pyqtSignal(int)      # index now shown alone
    play_requested = pyqtSignal(int)       # index of a variant to hear (side by side)
    cleared = pyqtSignal()                 # the variants are gone

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.items: list[VariantItem] = []
        self.current = -1
        self.cards: list[_Card] = []
        self._build()
        self.clear()

    # ---- building -----------------------------------------------------------------------------
    def _build(self) -> None:
        def tool(text: str, tip: str, slot) -> QToolButton:
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(slot)
            return button

        self.previous_button = tool("◀", "Previous variant (Left, or Alt+Left anywhere)", self.previous)
        self.next_button = tool("▶", "Next variant (Right, or Alt+Right anywhere)", self.next)
        self.numbers = QButtonGroup(self)
        self.numbers.setExclusive(True)
        numbers_box = QWidget()
        self.numbers_row = QHBoxLayout(numbers_box)
        self.numbers_row.setContentsMargins(0, 0, 0, 0)
        self.numbers_row.setSpacing(2)
        self.title = QLabel()
        self.zoom_out_button = tool("−", "Smaller (-, or Ctrl+- anywhere)", lambda: self.zoom_out())
        self.zoom_label = QLabel("100%")
        self.zoom_in_button = tool("+", "Larger (+, or Ctrl++ anywhere)", lambda: self.zoom_in())
        self.grid_button = QPushButton("All side by side")
        self.grid_button.setCheckable(True)
        self.grid_button.setToolTip("Every variant next to the others (G, or Ctrl+G anywhere); click a title to see it alone")
        self.grid_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.grid_button.toggled.connect(self.set_side_by_side)
        self.use_button = QPushButton("Use variant")
        self.use_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.use_button.clicked.connect(lambda: self.current >= 0 and self.use_requested.emit(self.current))
        bar = FlowLayout()   # wraps in a narrow window instead of cutting the labels
        for w in (self.previous_button, numbers_box, self.next_button, self.title, self.zoom_out_button,
                  self.zoom_label, self.zoom_in_button, self.grid_button, self.use_button):
            bar.addWidget(w)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.info.setToolTip(EXPLAINED)
        self.extra_rows = QVBoxLayout()       # listening and re-run controls, added by the window
        self.extra_rows.setSpacing(2)
        self.view = ScoreView("Variants appear here, one at a time at a readable size, new bars in colour.")
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))
        self.grid_holder = QWidget()
        self.grid = QGridLayout(self.grid_holder)
        self.grid.setContentsMargins(0, 0, 0, 0)
        grid_scroll = QScrollArea()
        grid_scroll.setWidgetResizable(True)
        grid_scroll.setWidget(self.grid_holder)
        grid_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(grid_scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.info)
        layout.addLayout(self.extra_rows)
        layout.addWidget(self.stack, 1)

    # ---- content -------------------------------------------------------------------------------
    def clear(self, text: str = "Variants appear here, one at a time at a readable size, new bars in colour.") -> None:
        self.set_side_by_side(False)
        self.items = []
        self.current = -1
        self._drop_cards()
        for button in self.numbers.buttons():
            self.numbers.removeButton(button)
            button.deleteLater()
        self.view.show_text(text)
        self.title.setText("")
        self.info.setText("")
        self._update_controls()
        self.cleared.emit()

    def set_variants(self, items: list[VariantItem]) -> None:
        self.clear()
        self.items = list(items)
        for k, item in enumerate(self.items):
            button = QToolButton()
            button.setText(str(item.number))
            button.setCheckable(True)
            button.setToolTip(f"Variant {item.number} ({item.number})")
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, i=k: self.show_alone(i))
            self.numbers.addButton(button, k)
            self.numbers_row.addWidget(button)
            button.show()   # a child added to a shown widget is otherwise shown only later
        if self.items:
            self.show_variant(0)
        self._update_controls()

    def show_variant(self, k: int) -> None:
        if not 0 <= k < len(self.items):
            return
        self.current = k
        item = self.items[k]
        self.view.show_excerpt(item.shown_excerpt(), item.applied.new_indices, staves=item.staves)
        self.numbers.button(k).setChecked(True)
        self.title.setText(f"<b>Variant {item.number}</b> of {len(self.items)}")
        self.info.setText(item.info + (f"<br><span style='color:#555'>{item.settings}</span>" if item.settings else ""))
        self.use_button.setText(f"Use variant {item.number}")
        self.use_button.setToolTip(f"Make variant {item.number} the score (Enter here, or Ctrl+{item.number} anywhere)")
        for card in self.cards:
            card.mark_current(card.item is item)
        self._update_controls()
        self.current_changed.emit(k)

    def show_alone(self, k: int) -> None:
        self.set_side_by_side(False)
        self.show_variant(k)

    def next(self) -> None:
        if self.items:
            self.show_variant((self.current + 1) % len(self.items))

    def previous(self) -> None:
        if self.items:
            self.show_variant((self.current - 1) % len(self.items))

    def zoom_in(self) -> None:
        for view in self._views():
            view.zoom_in()

    def zoom_out(self) -> None:
        for view in self._views():
            view.zoom_out()

    def _views(self) -> list[ScoreView]:
        return [card.view for card in self.cards] if self.side_by_side else [self.view]

    # ---- side by side --------------------------------------------------------------------------
    @property
    def side_by_side(self) -> bool:
        return self.stack.currentIndex() == 1

    def set_side_by_side(self, on: bool) -> None:
        on = bool(on) and bool(self.items)
        if self.grid_button.isChecked() != on:
            self.grid_button.blockSignals(True)
            self.grid_button.setChecked(on)
            self.grid_button.blockSignals(False)
        if on and not self.cards:
            for item in self.items:
                card = _Card(item, self)
                card.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))
                self.cards.append(card)
            self._arrange_cards()
        self.stack.setCurrentIndex(1 if on else 0)
        self.zoom_label.setText(f"{self._views()[0].zoom:.0%}" if self._views() else "100%")
        if on:
            for card in self.cards:   # drawn once shown, at the width each card really has
                card.draw()
            if 0 <= self.current < len(self.items):
                self.show_variant(self.current)

    def _columns(self) -> int:
        room = max(1, self.stack.width() - 24)
        return max(1, min(GRID_COLUMNS, len(self.items), room // CARD_MIN_WIDTH))

    def _arrange_cards(self) -> None:
        columns = self._columns()
        for card in self.cards:
            self.grid.removeWidget(card)
        for k, card in enumerate(self.cards):
            card.setMinimumWidth(CARD_MIN_WIDTH)
            self.grid.addWidget(card, k // columns, k % columns)
            card.show()
        self._arranged_columns = columns

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.cards and getattr(self, "_arranged_columns", 0) != self._columns():
            self._arrange_cards()

    def _drop_cards(self) -> None:
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []

    def _update_controls(self) -> None:
        has = bool(self.items)
        for w in (self.previous_button, self.next_button, self.zoom_in_button, self.zoom_out_button,
                  self.grid_button, self.use_button):
            w.setEnabled(has)
        self.previous_button.setEnabled(len(self.items) > 1)
        self.next_button.setEnabled(len(self.items) > 1)

    # ---- keys ----------------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        key, text = event.key(), event.text()
        plain = not (event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier))
        if not plain or not self.items:
            return super().keyPressEvent(event)
        if key == Qt.Key.Key_Right:
            self.next()
        elif key == Qt.Key.Key_Left:
            self.previous()
        elif key == Qt.Key.Key_Home:
            self.show_variant(0)
        elif key == Qt.Key.Key_End:
            self.show_variant(len(self.items) - 1)
        elif text.isdigit() and 1 <= int(text) <= len(self.items):
            self.show_alone(int(text) - 1)
        elif text in ("+", "="):
            self.zoom_in()
        elif text == "-":
            self.zoom_out()
        elif text.lower() == "g":
            self.set_side_by_side(not self.side_by_side)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.use_requested.emit(self.current)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            bar = self.view.verticalScrollBar()
            step = bar.singleStep() * 3 if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) else bar.pageStep()
            bar.setValue(bar.value() + (step if key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown) else -step))
        else:
            return super().keyPressEvent(event)
        event.accept()
