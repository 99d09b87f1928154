"""Browsing the variants of a real result (toy model behind a real daemon): one variant at a
readable size even in the smallest window, keys to move between them and to zoom, all of them
side by side on demand, and Enter to use the one shown."""
from __future__ import annotations

import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("verovio")

from PyQt6.QtCore import Qt  # noqa: E402

from tests.panel_helpers import continue_job_on_toy_score, wait_for_variants  # noqa: E402

READABLE_STAFF_SPACE_PX = 6.0   # about the size of printed music at arm's length on a laptop screen


def marked_bars(view) -> int:
    from notabridge.ui.score_view import NEW_BAR_COLOUR

    return sum(page.count(f'data-marked="{NEW_BAR_COLOUR}"') for page in view.pages)


def test_variants_one_at_a_time_readable_with_keys_zoom_and_side_by_side(window, daemon, qtbot, tmp_path):
    continue_job_on_toy_score(window, daemon, qtbot, tmp_path, variants=3)
    window.resize(window.minimumSize())
    window.run_job()
    wait_for_variants(window, qtbot, 3, 90000)
    browser, view = window.browser, window.browser.view
    qtbot.wait(400)   # the layout for the window's real width settles

    # one variant, large: staves at a readable size, its two new bars (and only they) in colour
    assert browser.current == 0 and not browser.side_by_side
    assert view.isVisible() and view.svg_widgets()
    assert view.staff_space_px() >= READABLE_STAFF_SPACE_PX, f"{view.staff_space_px():.1f} px between staff lines"
    assert marked_bars(view) == 2
    assert browser.hasFocus(), "the result takes the focus, so the keys work at once"

    # keys: right / left, a number, home / end
    qtbot.keyClick(browser, Qt.Key.Key_Right)
    assert browser.current == 1 and "Variant 2" in browser.title.text() and marked_bars(view) == 2
    qtbot.keyClick(browser, Qt.Key.Key_3)
    assert browser.current == 2 and browser.use_button.text() == "Use variant 3"
    qtbot.keyClick(browser, Qt.Key.Key_Right)
    assert browser.current == 0   # wraps round
    qtbot.keyClick(browser, Qt.Key.Key_End)
    assert browser.current == 2
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)   # from anywhere in the window
    assert browser.current == 1

    # zoom: + draws larger, - smaller again
    before = view.staff_space_px()
    qtbot.keyClick(browser, Qt.Key.Key_Plus)
    assert view.staff_space_px() > before * 1.2
    qtbot.keyClick(browser, Qt.Key.Key_Minus)
    assert view.staff_space_px() == pytest.approx(before, rel=0.05)

    # all side by side, each with its new bars in colour; a title shows that one alone
    qtbot.keyClick(browser, Qt.Key.Key_G)
    assert browser.side_by_side and len(browser.cards) == 3
    for card in browser.cards:
        assert card.isVisible() and card.view.svg_widgets() and marked_bars(card.view) == 2
    qtbot.mouseClick(browser.cards[2].title, Qt.MouseButton.LeftButton)
    assert not browser.side_by_side and browser.current == 2

    # Enter uses the variant shown: the score grows by its two bars
    qtbot.keyClick(browser, Qt.Key.Key_Return)
    assert len(window.score["measures"]) == 6
    assert window.score["measures"][4] == browser.items[2].applied.excerpt["measures"][4]
