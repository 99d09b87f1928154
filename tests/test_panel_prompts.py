"""The chained prompt pickers offer only combinations in the model's prompt list."""
from __future__ import annotations

import pytest

pytest.importorskip("PyQt6.QtWidgets")

from tests.panel_helpers import free_udp_port  # noqa: E402,F401 (sets QT_QPA_PLATFORM)

PROMPTS = [("Baroque", "Bach, Johann Sebastian", "Choral"), ("Baroque", "Bach, Johann Sebastian", "Keyboard"),
           ("Baroque", "Handel, George Frideric", "Orchestral"), ("Romantic", "Chopin, Frederic", "Keyboard")]


def items(box) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def test_each_list_follows_the_choice_above_it(qtbot):
    from notabridge.ui.widgets import PromptPicker

    picker = PromptPicker()
    qtbot.addWidget(picker)
    assert not picker.isEnabled()   # no prompts known yet
    picker.set_prompts(PROMPTS)
    assert items(picker.period) == ["(no prompt)", "Baroque", "Romantic"]
    chosen = []
    picker.edited.connect(chosen.append)
    picker.period.setCurrentIndex(2)
    picker.period.activated.emit(2)
    assert items(picker.composer) == ["Chopin, Frederic"]
    assert items(picker.instrumentation) == ["Keyboard"]
    assert chosen[-1] == {"period": "Romantic", "composer": "Chopin, Frederic", "instrumentation": "Keyboard"}
    picker.period.setCurrentIndex(1)
    picker.period.activated.emit(1)
    assert items(picker.composer) == ["Bach, Johann Sebastian", "Handel, George Frideric"]
    assert items(picker.instrumentation) == ["Choral", "Keyboard"]
    picker.composer.setCurrentIndex(1)
    picker.composer.activated.emit(1)
    assert items(picker.instrumentation) == ["Orchestral"]
    assert chosen[-1]["composer"] == "Handel, George Frideric"
    picker.period.setCurrentIndex(0)
    picker.period.activated.emit(0)
    assert chosen[-1] is None and not picker.composer.isEnabled()


def test_a_pushed_prompt_is_shown_without_echo(qtbot):
    from notabridge.ui.widgets import PromptPicker

    picker = PromptPicker()
    qtbot.addWidget(picker)
    picker.set_prompts(PROMPTS)
    chosen = []
    picker.edited.connect(chosen.append)
    picker.set_value({"period": "Baroque", "composer": "Bach, Johann Sebastian", "instrumentation": "Keyboard"})
    assert picker.value() == {"period": "Baroque", "composer": "Bach, Johann Sebastian", "instrumentation": "Keyboard"}
    assert chosen == []
