"""The panel as a musician reads it: no text cut at the smallest window size (file names, long
composer names in the history, every button and number), measures chosen by their printed
numbers, and generate showing no range of the open score."""
from __future__ import annotations

import shutil

import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("verovio")

from PyQt6.QtCore import Qt  # noqa: E402
from pytestqt.exceptions import TimeoutError as QtTimeout  # noqa: E402

from tests.panel_helpers import daemon_settings, wait_for_variants  # noqa: E402

LONG_COMPOSERS = ("Palestrina, Giovanni Pierluigi da", "Mendelssohn-Bartholdy, Jakob Ludwig Felix")


def cut_texts(window) -> list[str]:
    """Every visible text in the window that does not fit the room it is given."""
    from PyQt6.QtWidgets import QAbstractButton, QAbstractScrollArea, QComboBox, QLabel

    problems = []
    for widget in window.findChildren(QLabel) + window.findChildren(QAbstractButton) + window.findChildren(QComboBox):
        if not widget.isVisibleTo(window) or widget.width() <= 0:
            continue
        if widget.visibleRegion().isEmpty():   # not on screen: e.g. in a dock whose tab is behind another
            continue
        text = widget.currentText() if isinstance(widget, QComboBox) else widget.text()
        if not text.strip():
            continue
        name = f"{type(widget).__name__} {text[:40]!r}"
        if isinstance(widget, QLabel):
            if widget.wordWrap():
                if widget.heightForWidth(widget.width()) > widget.height() + 1:
                    problems.append(f"{name}: needs {widget.heightForWidth(widget.width())} px of height, has {widget.height()}")
            elif widget.sizeHint().width() > widget.width() + 1:
                problems.append(f"{name}: needs {widget.sizeHint().width()} px, has {widget.width()}")
        else:
            room = widget.width() - (28 if isinstance(widget, QComboBox) else 6)
            if widget.fontMetrics().horizontalAdvance(text) > room:
                problems.append(f"{name}: {widget.fontMetrics().horizontalAdvance(text)} px of text in {room}")
        # a widget cut by its parent (not merely scrolled out of a scroll area) shows less than its rect
        inside_scroll = any(isinstance(p, QAbstractScrollArea) for p in _ancestors(widget, window))
        if not inside_scroll and widget.visibleRegion().boundingRect().width() < widget.width() - 1:
            problems.append(f"{name}: only {widget.visibleRegion().boundingRect().width()} of {widget.width()} px shown")
        if inside_scroll and not isinstance(widget, QComboBox):
            viewport = next(p for p in _ancestors(widget, window) if isinstance(p, QAbstractScrollArea)).viewport()
            right = widget.mapTo(viewport, widget.rect().topRight()).x()
            if right > viewport.width() + 1:
                problems.append(f"{name}: runs {right - viewport.width()} px past the side of its scrolled area")
    return problems


def _ancestors(widget, top):
    parent = widget.parentWidget()
    while parent is not None and parent is not top:
        yield parent
        parent = parent.parentWidget()


def test_no_text_is_cut_at_the_minimum_window_size(window, daemon, qtbot, tmp_path):
    from music21 import corpus

    for composer in LONG_COMPOSERS:
        window.history.add("continue", dict(window.settings.values, prompt={
            "period": "Romantic", "composer": composer, "instrumentation": "Chamber"}), "3 variant(s)")
    from notabridge.notation import read_excerpt, write_excerpt

    source = tmp_path / "bwv367.musicxml"   # the name the issue saw cut to "bwv367.musi"
    shutil.copy(corpus.getWork("bwv367"), tmp_path / "bwv367.mxl")
    write_excerpt(read_excerpt(tmp_path / "bwv367.mxl"), source)
    assert window.open_file(source)
    window.resize(window.minimumSize())
    assert (window.width(), window.height()) == (1024, 640)
    window.mode.setCurrentText("continue")
    window.variant_count.spin.setValue(3)
    window.bars.spin.setValue(1)
    qtbot.waitUntil(lambda: daemon_settings(daemon)["variants"] == 3, timeout=5000)
    window.run_job()
    wait_for_variants(window, qtbot, 3, 120000)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=10000)
    qtbot.wait(300)
    assert window.file_label.text() == "bwv367.musicxml"
    assert not cut_texts(window), "\n".join(cut_texts(window))
    window.browser.set_side_by_side(True)
    qtbot.wait(300)
    assert not cut_texts(window), "\n".join(cut_texts(window))
    window.live_dock.raise_()   # the Live tab (here saying how to get live mode: no MIDI ports)
    qtbot.waitUntil(lambda: not window.live.visibleRegion().isEmpty(), timeout=2000)
    assert "--midi-in NAME" in window.live.error.text()
    try:   # once laid out for the tab's width (a tab brought forward is laid out again a moment later)
        qtbot.waitUntil(lambda: not cut_texts(window), timeout=3000)
    except QtTimeout:
        pass   # said with the details below
    assert not cut_texts(window), "\n".join(cut_texts(window))


def test_measures_are_chosen_and_shown_by_their_printed_numbers(window, qtbot, tmp_path):
    from music21 import corpus

    from notabridge.ui.document import build_job
    from notabridge.ui.score_view import RANGE_COLOUR

    assert window.open_file(corpus.getWork("bwv367"))   # a pickup, printed as measure 0, then 1, 2, ...
    numbers = [m["number"] for m in window.score["measures"]]
    assert numbers[:3] == [0, 1, 2]
    assert window.first.text() == "0" and window.last.text() == str(numbers[-1])
    window.first.lineEdit().selectAll()
    qtbot.keyClicks(window.first, "2")
    qtbot.keyClick(window.first, Qt.Key.Key_Tab)
    window.last.lineEdit().selectAll()
    qtbot.keyClicks(window.last, "4")
    qtbot.keyClick(window.last, Qt.Key.Key_Tab)
    assert (window.first.value(), window.last.value()) == (2, 4)   # indices of printed bars 2 and 4
    job = build_job("continue", window.score, window.first.value(), window.last.value() + 1)
    selected = [m["number"] for m in job["excerpt"]["measures"]
                if job["excerpt"]["selection"]["start"] <= m["index"] < job["excerpt"]["selection"]["end"]]
    assert selected == [2, 3, 4]
    svg = "".join(window.score_view.pages)
    assert svg.count(f'data-marked="{RANGE_COLOUR}"') == 3   # the three measures of the range drawn in blue

    # staves are counted from 1 at the top, as MuseScore's users count them
    window.staves.setText("4")
    assert window._staves() == [3]
    window.staves.setText("5")
    assert window._staves() is None and "from 1 (top) to 4" in window.message.text()


def test_generate_shows_no_range_of_the_open_score(window, qtbot):
    from music21 import corpus

    from notabridge.ui.score_view import RANGE_COLOUR

    window.mode.setCurrentText("continue")
    assert window.open_file(corpus.getWork("bwv367"))
    assert RANGE_COLOUR in "".join(window.score_view.pages)
    window.mode.setCurrentText("generate")
    assert RANGE_COLOUR not in "".join(window.score_view.pages)
    assert not window.first.isEnabled() and not window.staves.isEnabled()
    assert "not used" in window.message.text()
    window.mode.setCurrentText("continue")
    assert RANGE_COLOUR in "".join(window.score_view.pages)
