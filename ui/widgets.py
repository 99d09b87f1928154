"""Controls of the panel. Each emits `edited` only for the user's own changes; `set_value`
(used for changes pushed by the daemon) never re-emits, so nothing echoes back."""
from __future__ import annotations

import random
from typing import Any

from PyQt6.QtCore import QSignalBlocker, Qt, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QSlider, QSpinBox,
                             QToolButton, QWidget)

from .prompt_choices import Prompt, composers, instrumentations, periods

NO_PROMPT = "(no prompt)"


class NumberControl(QWidget):
    """A slider with a spin box beside it, for an integer or a decimal setting."""
    edited = pyqtSignal(object)

    def __init__(self, minimum: float, maximum: float, step: float, decimals: int = 0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step, self.minimum, self.decimals = step, minimum, decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round((maximum - minimum) / step))
        self.spin: QSpinBox | QDoubleSpinBox = QDoubleSpinBox() if decimals else QSpinBox()
        if decimals:
            self.spin.setDecimals(decimals)
        self.spin.setRange(minimum, maximum)  # type: ignore[arg-type]
        self.spin.setSingleStep(step)  # type: ignore[arg-type]
        self.spin.setKeyboardTracking(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def value(self) -> float | int:
        return round(self.spin.value(), self.decimals) if self.decimals else int(self.spin.value())

    def set_range(self, minimum: float, maximum: float) -> None:
        """The range the daemon reports for this setting (its capabilities)."""
        current = self.value()
        self.minimum = minimum
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.slider.setRange(0, round((maximum - minimum) / self.step))
            self.spin.setRange(minimum, maximum)  # type: ignore[arg-type]
        self.set_value(min(max(current, minimum), maximum))

    def set_value(self, value: float | int) -> None:
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.spin.setValue(value)
            self.slider.setValue(round((value - self.minimum) / self.step))

    def _from_slider(self, position: int) -> None:
        value = self.minimum + position * self.step
        value = round(value, self.decimals) if self.decimals else int(round(value))
        with QSignalBlocker(self.spin):
            self.spin.setValue(value)
        self.edited.emit(value)

    def _from_spin(self, value: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(round((value - self.minimum) / self.step))
        self.edited.emit(self.value())


class SeedControl(QWidget):
    """A seed with a lock: locked, every job uses this seed (reproducible); unlocked, seed is null."""
    edited = pyqtSignal(object)   # int or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin = QSpinBox()
        self.spin.setRange(0, 2**31 - 1)
        self.spin.setKeyboardTracking(False)
        self.lock = QCheckBox("lock")
        self.lock.setToolTip("Locked: every job uses this seed, so results repeat. Unlocked: a fresh seed each time.")
        self.dice = QToolButton()
        self.dice.setText("new")
        self.dice.setToolTip("Pick another random seed")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin, 1)
        layout.addWidget(self.lock)
        layout.addWidget(self.dice)
        self.spin.valueChanged.connect(self._changed)
        self.lock.toggled.connect(self._changed)
        self.dice.clicked.connect(lambda: self.spin.setValue(random.randrange(2**31 - 1)))

    def value(self) -> int | None:
        return self.spin.value() if self.lock.isChecked() else None

    def set_value(self, seed: int | None) -> None:
        with QSignalBlocker(self.spin), QSignalBlocker(self.lock):
            self.lock.setChecked(seed is not None)
            if seed is not None:
                self.spin.setValue(int(seed))
        self.spin.setEnabled(True)

    def _changed(self, *_: Any) -> None:
        self.edited.emit(self.value())


class PromptPicker(QWidget):
    """Period -> composer -> instrumentation, each list holding only what the model knows."""
    edited = pyqtSignal(object)   # {"period","composer","instrumentation"} or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompts: list[Prompt] = []
        self.period, self.composer, self.instrumentation = QComboBox(), QComboBox(), QComboBox()
        for box, tip in ((self.period, "Period"), (self.composer, "Composer (of the chosen period)"),
                         (self.instrumentation, "Instrumentation (known for this composer)")):
            box.setToolTip(tip)
            box.setMinimumContentsLength(8)
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)   # long composer names get the full width
        layout.addRow("Period", self.period)
        layout.addRow("Composer", self.composer)
        layout.addRow("Instrumentation", self.instrumentation)
        self.period.activated.connect(lambda _: self._user_changed(0))
        self.composer.activated.connect(lambda _: self._user_changed(1))
        self.instrumentation.activated.connect(lambda _: self._user_changed(2))
        self.set_prompts([])

    def set_prompts(self, prompts: list[Prompt]) -> None:
        current = self.value()
        self.prompts = list(prompts)
        self.setEnabled(bool(self.prompts))
        self.setToolTip("" if self.prompts else "The model lists no style prompts (or the daemon is not running)")
        self.set_value(current)

    def value(self) -> dict | None:
        if self.period.currentIndex() <= 0 or not self.composer.currentText() or not self.instrumentation.currentText():
            return None
        return {"period": self.period.currentText(), "composer": self.composer.currentText(),
                "instrumentation": self.instrumentation.currentText()}

    def set_value(self, prompt: dict | None) -> None:
        wanted = (prompt or {}).get("period"), (prompt or {}).get("composer"), (prompt or {}).get("instrumentation")
        with QSignalBlocker(self.period), QSignalBlocker(self.composer), QSignalBlocker(self.instrumentation):
            self._fill(self.period, [NO_PROMPT] + periods(self.prompts), wanted[0])
            self._refill_below(0, wanted)

    def _refill_below(self, level: int, wanted: tuple) -> None:
        period = self.period.currentText() if self.period.currentIndex() > 0 else None
        if level <= 0:
            self._fill(self.composer, composers(self.prompts, period) if period else [], wanted[1])
        if level <= 1:
            composer = self.composer.currentText()
            self._fill(self.instrumentation, instrumentations(self.prompts, period, composer) if period else [], wanted[2])
        self.composer.setEnabled(period is not None)
        self.instrumentation.setEnabled(period is not None)

    @staticmethod
    def _fill(box: QComboBox, items: list[str], wanted: str | None) -> None:
        box.clear()
        box.addItems(items)
        if wanted in items:
            box.setCurrentIndex(items.index(wanted))

    def _user_changed(self, level: int) -> None:
        wanted = (self.period.currentText(), self.composer.currentText(), self.instrumentation.currentText())
        with QSignalBlocker(self.composer), QSignalBlocker(self.instrumentation):
            self._refill_below(level, wanted)
        self.edited.emit(self.value())


class MeasureSpin(QSpinBox):
    """A measure chosen by its printed number (as MuseScore and the CLI show it); the value is
    the measure's index in the score, so pickups (bar 0) and repeated numbers still work."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.numbers: list[int] = []       # printed number of each index from the first one
        self.first_index = 0
        self.setRange(0, 0)

    def set_measures(self, measures: list[dict]) -> None:
        """The score's measures (excerpt JSON); the range becomes their indices."""
        self.first_index = measures[0]["index"] if measures else 0
        self.numbers = [m.get("number", m["index"] + 1) for m in measures]
        with QSignalBlocker(self):
            self.setRange(self.first_index, self.first_index + max(0, len(measures) - 1))
        self.updateGeometry()

    def number(self, index: int | None = None) -> int:
        index = self.value() if index is None else index
        k = index - self.first_index
        return self.numbers[k] if 0 <= k < len(self.numbers) else index + 1

    def textFromValue(self, value: int) -> str:  # noqa: N802 (Qt's name)
        return str(self.number(value))

    def valueFromText(self, text: str) -> int:  # noqa: N802 (Qt's name)
        try:
            wanted = int(text)
        except ValueError:
            return self.value()
        for k, number in enumerate(self.numbers):   # the first measure printed with that number
            if number == wanted:
                return self.first_index + k
        return self.value()

    def validate(self, text: str, pos: int):
        from PyQt6.QtGui import QValidator

        if text in ("", "-"):
            return QValidator.State.Intermediate, text, pos
        try:
            wanted = int(text)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        if wanted in self.numbers:
            return QValidator.State.Acceptable, text, pos
        if any(str(n).startswith(text) for n in self.numbers):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def sizeHint(self):  # noqa: N802 (Qt's name)
        hint = super().sizeHint()
        widest = max((len(str(n)) for n in self.numbers), default=1)
        hint.setWidth(max(hint.width(), self.fontMetrics().horizontalAdvance("8" * (widest + 1)) + 36))
        return hint

    def minimumSizeHint(self):  # noqa: N802 (Qt's name)
        return self.sizeHint()
