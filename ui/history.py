"""The generations made in this panel with the settings they used; one click restores them."""
from __future__ import annotations

import json
import time
from typing import Any

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QWidget

MAX_ENTRIES = 100
KEY = "history/entries"


def describe(entry: dict) -> str:
    s = entry.get("settings", {})
    prompt = s.get("prompt") or {}
    seed = s.get("seed")
    parts = [time.strftime("%H:%M", time.localtime(entry.get("time", 0))), entry.get("mode", "?"),
             f"T={s.get('temperature')}", f"k={s.get('top_k')}", f"p={s.get('top_p')}",
             f"seed={'free' if seed is None else seed}", f"{s.get('variants')}x{s.get('bars')} bars"]
    if prompt:
        parts.append(prompt.get("composer", ""))
    if entry.get("outcome"):
        parts.append(entry["outcome"])
    return "  ".join(str(p) for p in parts)


class HistoryList(QListWidget):
    restore_requested = pyqtSignal(dict)   # the settings of an entry

    def __init__(self, store: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        layout = QHBoxLayout(row)
        layout.setContentsMargins(4, 1, 4, 1)
        label = QLabel(describe(entry))
        label.setToolTip(json.dumps(entry.get("settings", {}), indent=1))
        button = QPushButton("Restore")
        button.setToolTip("Make these the shared settings again")
        button.clicked.connect(lambda: self.restore_requested.emit(dict(entry.get("settings", {}))))
        layout.addWidget(label, 1)
        layout.addWidget(button)
        item = QListWidgetItem()
        item.setSizeHint(row.sizeHint())
        if at_top:
            self.insertItem(0, item)
        else:
            self.addItem(item)
        self.setItemWidget(item, row)

    def restore_button(self, row: int) -> QPushButton:
        return self.itemWidget(self.item(row)).findChild(QPushButton)
