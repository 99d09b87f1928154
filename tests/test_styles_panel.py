"""The panel's Suggest button (offscreen, pytest-qt) against a daemon running the embedded model:
the chosen measures of a held-out Haydn quartet (see tests/test_styles_suggest.py) get the
model's three likeliest styles, and one click makes the first the shared style prompt."""
from __future__ import annotations

import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("verovio")

from PyQt6.QtCore import Qt  # noqa: E402

from tests.daemon_helpers import http_request, running_daemon  # noqa: E402
from tests.panel_helpers import make_window, osc_port_of  # noqa: E402
from tests.test_styles_suggest import HAYDN, _haydn_excerpt  # noqa: E402


@pytest.fixture(scope="module")
def daemon():
    from notabridge.engine.bundle import DEFAULT_BUNDLE
    with running_daemon(DEFAULT_BUNDLE) as d:
        yield d


def test_suggest_then_one_click_sets_the_style(qtbot, daemon, tmp_path):
    from notabridge.notation import write_excerpt

    http_request(daemon, "POST", "/settings", {"prompt": None})
    window = make_window(qtbot, osc_port_of(daemon), tmp_path / "panel.ini")
    qtbot.waitUntil(lambda: bool(window.link.connected and window.link.capabilities), timeout=10000)
    excerpt = _haydn_excerpt(8)
    excerpt.pop("selection")
    write_excerpt(excerpt, tmp_path / "haydn.musicxml")
    assert window.open_file(tmp_path / "haydn.musicxml")
    window.first.setValue(0)
    window.last.setValue(7)
    qtbot.mouseClick(window.suggest.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.suggest.choices[0].isVisible() or "could not" in window.suggest.status.text(),
                    timeout=120000)
    assert [c.isVisible() for c in window.suggest.choices] == [True, True, True], window.suggest.status.text()
    assert window.suggest.choices[0].text() == "1. " + " / ".join(HAYDN)
    qtbot.mouseClick(window.suggest.choices[0], Qt.MouseButton.LeftButton)
    wanted = dict(zip(("period", "composer", "instrumentation"), HAYDN))
    assert window.prompt.value() == wanted
    qtbot.waitUntil(lambda: http_request(daemon, "GET", "/settings")[1]["prompt"] == wanted, timeout=5000)
    window.close()


def test_suggest_without_a_score_says_to_open_one(qtbot, daemon, tmp_path):
    window = make_window(qtbot, osc_port_of(daemon), tmp_path / "panel.ini")
    qtbot.mouseClick(window.suggest.button, Qt.MouseButton.LeftButton)
    assert "open a score" in window.suggest.status.text()
    assert not any(c.isVisible() for c in window.suggest.choices)
    window.close()
