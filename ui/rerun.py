"""One click to run the same job again with one knob changed (the same seed, so the change is
the only difference): temperature, top-k or top-p a step down or up, or another seed."""
from __future__ import annotations

import random

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QLabel, QToolButton, QWidget

from .flow_layout import FlowLayout

# knob, step, decimals
KNOBS = (("temperature", 0.2, 2), ("top_k", 4, 0), ("top_p", 0.05, 2))
SHORT = {"temperature": "T", "top_k": "top-k", "top_p": "top-p"}
LIMITS = {"temperature": (0.05, 5.0), "top_k": (0, 128), "top_p": (0.01, 1.0)}


def knob_changes(settings: dict, limits: dict | None = None) -> list[tuple[str, dict]]:
    """(button label, the one setting it changes) for each step that stays inside the limits."""
    limits = limits or LIMITS
    out = []
    for name, step, decimals in KNOBS:
        value = settings.get(name)
        if not isinstance(value, (int, float)):
            continue
        low, high = limits.get(name, LIMITS[name])
        for sign in (-1, +1):
            new = round(value + sign * step, decimals) if decimals else int(value + sign * step)
            new = min(max(new, low), high)
            if new != value:
                out.append((f"{SHORT[name]} {new:g}", {name: new}))
    out.append(("new seed", {"seed": random.randrange(2**31 - 1)}))
    return out


class RerunBar(QWidget):
    rerun_requested = pyqtSignal(dict)    # the one setting to change

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Run again with:")
        self.row = FlowLayout(self, spacing=3)
        self.row.addWidget(self.label)
        self.buttons: list[QToolButton] = []
        self.set_settings(None)

    def set_settings(self, settings: dict | None, limits: dict | None = None) -> None:
        """The settings of the result shown (None: no result, nothing to run again)."""
        for button in self.buttons:
            button.setParent(None)
            button.deleteLater()
        self.buttons = []
        self.setVisible(settings is not None)
        if settings is None:
            return
        for label, change in knob_changes(settings, limits):
            button = QToolButton()
            button.setText(label)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            (name, value), = change.items()
            button.setToolTip(f"Run the same job again with {name} {value} instead of {settings.get(name)}, "
                              f"everything else (seed included) as it was")
            button.clicked.connect(lambda _=False, c=change: self.rerun_requested.emit(dict(c)))
            self.row.addWidget(button)
            button.show()   # a child added to a shown widget is otherwise shown only later
            self.buttons.append(button)

    def button(self, label: str) -> QToolButton | None:
        return next((b for b in self.buttons if b.text() == label), None)
