"""The Qt panel (offscreen, pytest-qt) against a real daemon running the toy model: settings
travel both ways over OSC, a job on an opened file renders its variants, history restores."""
from __future__ import annotations

import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("verovio")

from PyQt6.QtCore import Qt  # noqa: E402

from tests.daemon_helpers import http_request  # noqa: E402
from tests.panel_helpers import PROMPT, daemon_settings, open_toy_score, wait_for_variants  # noqa: E402


def test_panel_shows_model_provider_and_queue(window, daemon):
    text = window.connection_label.text()
    assert "toy-two-voices" in text and daemon.engine.provider in text
    assert window.queue_label.text() == "queue: 0"


def test_temperature_slider_changes_the_daemons_setting(window, daemon, qtbot):
    slider = window.temperature.slider
    slider.setFocus()
    for _ in range(10):   # ten steps of 0.05 down, as a user with the arrow keys
        qtbot.keyClick(slider, Qt.Key.Key_Left)
    assert window.temperature.spin.value() == pytest.approx(0.7)
    qtbot.waitUntil(lambda: daemon_settings(daemon)["temperature"] == pytest.approx(0.7), timeout=5000)
    qtbot.wait(600)   # echoes of the intermediate values must not pull either side back
    assert daemon_settings(daemon)["temperature"] == pytest.approx(0.7)
    assert window.temperature.spin.value() == pytest.approx(0.7)


def test_change_over_http_shows_up_live(window, daemon, qtbot):
    http_request(daemon, "POST", "/settings", {"temperature": 2.5, "top_k": 20, "seed": 42, "prompt": PROMPT})
    qtbot.waitUntil(lambda: window.temperature.spin.value() == pytest.approx(2.5), timeout=5000)
    assert window.top_k.spin.value() == 20
    assert window.seed.lock.isChecked() and window.seed.spin.value() == 42
    assert window.prompt.value() == PROMPT
    qtbot.wait(500)
    assert daemon_settings(daemon)["temperature"] == pytest.approx(2.5)   # the panel sent nothing back


def test_prompt_pickers_offer_only_what_the_model_knows(window, daemon, qtbot):
    period = window.prompt.period
    assert [period.itemText(i) for i in range(period.count())] == ["(no prompt)", "Baroque"]
    period.setCurrentIndex(1)
    period.activated.emit(1)   # what a user's choice in the list emits
    assert [window.prompt.composer.itemText(i) for i in range(window.prompt.composer.count())] == ["Bach, Johann Sebastian"]
    qtbot.waitUntil(lambda: daemon_settings(daemon)["prompt"] == PROMPT, timeout=5000)


def test_continue_on_an_opened_file_renders_variants(window, daemon, qtbot, tmp_path):
    from notabridge.notation import read_excerpt
    from notabridge.ui.score_view import NEW_BAR_COLOUR

    open_toy_score(window, tmp_path)
    assert window.score_view.svg_widgets(), "the opened score is drawn"
    window.mode.setCurrentText("continue")
    window.first.setValue(0)
    window.last.setValue(3)
    window.variant_count.spin.setValue(2)
    window.bars.spin.setValue(2)
    qtbot.waitUntil(lambda: daemon_settings(daemon)["variants"] == 2 and daemon_settings(daemon)["bars"] == 2, timeout=5000)
    qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    wait_for_variants(window, qtbot, 2, 90000)
    view = window.browser.view
    for k, item in enumerate(window.variants):
        window.browser.show_variant(k)
        assert view.isVisible()
        svgs = view.svg_widgets()
        assert svgs and all(w.renderer().isValid() for w in svgs)
        marked = sum(page.count(f'data-marked="{NEW_BAR_COLOUR}"') for page in view.pages)
        assert marked == 2, "the two new bars, and only they, are drawn in colour"
        assert sorted(item.applied.new_indices) == [4, 5]
    assert window.progress.value() == window.progress.maximum()
    entry = window.history.entries[0]
    assert entry["mode"] == "continue" and entry["settings"]["variants"] == 2

    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)   # use variant 2
    assert len(window.score["measures"]) == 6
    for suffix in ("musicxml", "abc", "mid"):
        out = tmp_path / f"result.{suffix}"
        window.save_file(out)
        assert len(read_excerpt(out)["measures"]) == 6

    # one click on the history entry brings its settings back
    http_request(daemon, "POST", "/settings", {"variants": 1, "temperature": 3.0})
    qtbot.waitUntil(lambda: window.variant_count.value() == 1, timeout=5000)
    qtbot.mouseClick(window.history.restore_button(0), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: daemon_settings(daemon)["variants"] == 2, timeout=5000)
    assert daemon_settings(daemon)["temperature"] == pytest.approx(entry["settings"]["temperature"])


def test_generate_needs_no_file(window, daemon, qtbot):
    window.mode.setCurrentText("generate")
    window.bars.spin.setValue(2)
    assert window.run_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    wait_for_variants(window, qtbot, 1, 90000)
    assert window.browser.view.svg_widgets()


def test_cancel_stops_a_long_job(window, daemon, qtbot, tmp_path):
    open_toy_score(window, tmp_path)
    if window.player.available:
        assert window.play_button.isEnabled()
    else:   # no synthesizer on this machine: the button says why instead of failing silently
        assert not window.play_button.isEnabled() and "Install" in window.play_button.toolTip()
    window.mode.setCurrentText("continue")
    window.variant_count.spin.setValue(8)
    window.bars.spin.setValue(32)
    qtbot.waitUntil(lambda: daemon_settings(daemon)["bars"] == 32, timeout=5000)
    window.run_job()
    qtbot.waitUntil(lambda: window.progress.value() >= 1, timeout=30000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: "job cancelled" in window.message.text(), timeout=30000)
    assert window.progress.value() < window.progress.maximum()
    assert window.run_button.isEnabled() and not window.cancel_button.isEnabled()
    assert window.history.entries[0]["outcome"] == "cancelled"
    assert not window.variants


def test_accompany_marks_only_the_staff_it_wrote(window, daemon, qtbot, tmp_path):
    from notabridge.ui.score_view import NEW_BAR_COLOUR

    open_toy_score(window, tmp_path)
    window.mode.setCurrentText("accompany")
    window.first.setValue(0)
    window.last.setValue(3)
    window.staves.setText("2")   # the lower staff, counted from 1
    window.run_job()
    wait_for_variants(window, qtbot, 1, 60000)
    panel = window.variants[0]
    svg = "".join(window.browser.view.pages)
    assert svg.count(f'class="staff" fill="{NEW_BAR_COLOUR}"') == 4   # the lower staff of the 4 bars
    assert f'class="measure" fill="{NEW_BAR_COLOUR}"' not in svg     # the given melody stays black
    upper_before = [m["staves"][0] for m in window.score["measures"]]
    assert [m["staves"][0] for m in panel.applied.excerpt["measures"]] == upper_before


def test_infill_rewrites_the_range_in_place(window, daemon, qtbot, tmp_path):
    open_toy_score(window, tmp_path)
    window.mode.setCurrentText("infill")
    window.first.setValue(1)
    window.last.setValue(2)
    window.run_job()
    wait_for_variants(window, qtbot, 1, 60000)
    applied = window.variants[0].applied
    assert sorted(applied.new_indices) == [1, 2]
    assert [m["index"] for m in applied.excerpt["measures"]] == [0, 1, 2, 3]   # nothing added or lost
    assert applied.excerpt["measures"][0] == window.score["measures"][0]       # bars outside the range kept
    assert applied.excerpt["measures"][3] == window.score["measures"][3]


def test_live_tab_says_how_to_get_live_mode_when_the_daemon_has_no_midi_ports(window, qtbot):
    live = window.live
    from tests.panel_helpers import on_screen

    assert on_screen(window.history) and not on_screen(live)   # the history stays in front
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: on_screen(live) and not on_screen(window.history), timeout=2000)
    assert live.headline.text() == "Live: off"
    assert "notabridge serve --midi-in NAME --midi-out NAME" in live.error.text() and on_screen(live.error)
    assert not live.arm_button.isEnabled() and not live.key.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.wait(300)
    assert live.headline.text() == "Live: off" and "daemon:" not in window.message.text()
