"""The generations made in this panel with the settings they used; one click restores them."""
from __future__ import annotations

import html
import json
import time
from typing import Any

from PyQt6.QtCore import QSettings, QSize, pyqtSignal
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QSizePolicy, QVBoxLayout, QWidget

MAX_ENTRIES = 100
KEY = "history/entries"


def describe(entry: dict) -> str:
    s = entry.get("settings", {})
    prompt = s.get("prompt") or {}
    seed = s.get("seed")
    head = [time.strftime("%H:%M", time.localtime(entry.get("time", 0))), f"<b>{entry.get('mode', '?')}</b>"]
    if entry.get("outcome"):
        head.append(entry["outcome"])
    knobs = [f"T {s.get('temperature')}", f"k {s.get('top_k')}", f"p {s.get('top_p')}",
             f"seed {'free' if seed is None else seed}", f"{s.get('variants')}×{s.get('bars')} bars"]
    if prompt:
        knobs.append(html.escape(prompt.get("composer", "")))
    return " · ".join(str(p) for p in head) + "<br>" + " · ".join(str(k) for k in knobs)


class HistoryList(QListWidget):
    restore_requested = pyqtSignal(dict)   # the settings of an entry

    def __init__(self, store: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.store = store
        try:
            self.entries: list[dict] = json.loads(str(store.value(KEY, "[]")))
        except ValueError:
            self.entries = []
        for entry in self.entries:
            self._add_row(entry)

    def add(self, mode: str, settings: dict, outcome: str, **extra: Any) -> dict:
        entry = {"time": time.time(), "mode": mode, "settings": dict(settings), "outcome": outcome, **extra}
        self.entries.insert(0, entry)
        del self.entries[MAX_ENTRIES:]
        self.store.setValue(KEY, json.dumps(self.entries))
        self._add_row(entry, at_top=True)
        while self.count() > MAX_ENTRIES:
            self.takeItem(self.count() - 1)
        return entry

    def _add_row(self, entry: dict, at_top: bool = False) -> None:
        row = QWidget()
        layout = QVBoxLayout(row)   # the text above its button: long composer names wrap instead of being cut
        layout.setContentsMargins(4, 3, 4, 3)
        layout.setSpacing(2)
        label = QLabel(describe(entry))
        label.setWordWrap(True)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        label.setToolTip(json.dumps(entry.get("settings", {}), indent=1))
        button = QPushButton("Restore")
        button.setToolTip("Make these the shared settings again")
        button.clicked.connect(lambda: self.restore_requested.emit(dict(entry.get("settings", {}))))
        layout.addWidget(label)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignRight)
        item = QListWidgetItem()
        if at_top:
            self.insertItem(0, item)
        else:
            self.addItem(item)
        self.setItemWidget(item, row)
        self._fit_row(item)

    def _fit_row(self, item: QListWidgetItem) -> None:
        """Each row as tall as its text needs at the list's current width."""
        row = self.itemWidget(item)
        label, button = row.findChild(QLabel), row.findChild(QPushButton)
        width = max(80, self.viewport().width() - 8)
        height = label.heightForWidth(width) + button.sizeHint().height() + 10
        item.setSizeHint(QSize(width, height))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        for i in range(self.count()):
            self._fit_row(self.item(i))

    def restore_button(self, row: int) -> QPushButton:
        return self.itemWidget(self.item(row)).findChild(QPushButton)
