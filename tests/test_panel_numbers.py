"""The numbers that explain a result, and running again with one knob changed, against a real
daemon on the toy model."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("verovio")

from PyQt6.QtCore import Qt  # noqa: E402

from tests.daemon_helpers import toy_excerpt  # noqa: E402
from tests.panel_helpers import continue_job_on_toy_score, daemon_settings, wait_for_variants  # noqa: E402


def test_each_variant_shows_its_numbers_and_runs_again_with_one_knob_changed(window, daemon, qtbot, tmp_path):
    continue_job_on_toy_score(window, daemon, qtbot, tmp_path, variants=2)
    assert window.seed.value() is None   # a free seed
    window.run_job()
    wait_for_variants(window, qtbot, 2, 90000)
    browser = window.browser
    first_settings = dict(window.last_job["_settings"])
    assert isinstance(first_settings["seed"], int), "a free seed is drawn by the panel and shown"

    for k, item in enumerate(window.variants):
        browser.show_variant(k)
        text = browser.info.text()
        bits = item.data["bits_per_char"]
        assert isinstance(bits, float) and bits > 0, "the daemon returns the model's surprise per variant"
        assert f"<b>{bits:.2f}</b> bits/char" in text
        valid = round(item.data["valid_first_try"] * 2)
        assert f"<b>{valid}</b> of 2 bars valid on the first try" in text
        assert re.search(r"<b>\d</b> of 2 voices written", text)
        assert f"seed {first_settings['seed']}" in text and f"T {first_settings['temperature']}" in text

    # one click: the same job, temperature one step up, the same seed; the knob shows it
    old_t = first_settings["temperature"]
    button = window.rerun_bar.button(f"T {round(old_t + 0.2, 2):g}")
    assert button is not None and button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.runner.busy and window.last_job["_settings"]["temperature"] != old_t,
                    timeout=5000)
    wait_for_variants(window, qtbot, 2, 90000)
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=90000)
    again = window.last_job["_settings"]
    assert again == dict(first_settings, temperature=round(old_t + 0.2, 2))
    assert window.temperature.value() == pytest.approx(old_t + 0.2)
    qtbot.waitUntil(lambda: daemon_settings(daemon)["temperature"] == pytest.approx(old_t + 0.2), timeout=5000)
    assert daemon_settings(daemon)["seed"] is None, "the shared seed stays free"
    assert [len(v.applied.new_indices) for v in window.variants] == [2, 2]
    assert f"T {round(old_t + 0.2, 2)}" in browser.info.text()

    # 'new seed' changes only the seed
    before = dict(window.last_job["_settings"])
    qtbot.mouseClick(window.rerun_bar.button("new seed"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last_job["_settings"]["seed"] != before["seed"], timeout=5000)
    assert {k for k in before if before[k] != window.last_job["_settings"][k]} == {"seed"}
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=90000)


def test_voices_that_only_rest_are_named_as_silent():
    from notabridge.ui.document import apply_variant
    from notabridge.ui.variant_stats import describe, voices_written

    score = toy_excerpt(4)
    new = toy_excerpt(2)
    for m in new["measures"]:   # the lower staff rests through both new bars
        m["staves"][1]["voices"][0]["events"] = [{"type": "rest", "duration": "3/4"}]
    applied = apply_variant("continue", score, new, 4)
    assert voices_written(applied, score["parts"], None) == (1, 2, ["Lower"])
    assert voices_written(applied, score["parts"], [0]) == (1, 1, [])
    text = describe({"valid_first_try": 0.5, "bits_per_char": 1.234}, applied, score["parts"], None)
    assert "<b>1.23</b> bits/char" in text and "<b>1</b> of 2 bars valid" in text
    assert "<b>1</b> of 2 voices written" in text and "silent: Lower" in text
