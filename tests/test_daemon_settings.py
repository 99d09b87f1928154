"""Shared settings: validation a client can rely on, and every subscriber hearing every change."""
from __future__ import annotations

import math

import pytest

from notabridge.jobs.settings import SettingsError, SharedSettings, default_settings, validate_setting


@pytest.mark.parametrize("name, value", [
    ("temperature", math.nan), ("temperature", 0), ("temperature", True), ("temperature", "hot"),
    ("top_k", 2.5), ("top_k", -1), ("top_p", 1.5), ("seed", -3), ("variants", 9), ("bars", 0),
    ("order", "random"), ("prompt", {"period": "Baroque"}), ("prompt", ["a", "b"]), ("volume", 3),
    ("range_rule", "yes"), ("range_rule", 2), ("seed", math.inf), ("bars", -math.inf),
])
def test_out_of_range_values_are_refused_with_the_setting_named(name, value):
    with pytest.raises(SettingsError, match=name if name != "volume" else "unknown setting"):
        validate_setting(name, value)


def test_values_are_normalised():
    assert validate_setting("top_k", 5.0) == 5 and isinstance(validate_setting("top_k", 5.0), int)
    assert validate_setting("seed", None) is None
    assert validate_setting("range_rule", 0) is False and validate_setting("range_rule", True) is True   # OSC: 0/1
    assert validate_setting("prompt", ["Romantic", "Chopin, Frederic", "Keyboard"]) == {
        "period": "Romantic", "composer": "Chopin, Frederic", "instrumentation": "Keyboard"}


def test_every_subscriber_hears_each_real_change_once_even_if_one_breaks():
    settings = SharedSettings()
    heard: list[tuple[float, list[str]]] = []

    def broken(full, changed):
        raise RuntimeError("a client that went away")

    settings.subscribe(broken)
    settings.subscribe(lambda full, changed: heard.append((full["temperature"], changed)))
    settings.update({"temperature": 0.5})
    settings.update({"temperature": 0.5})          # no change, nothing announced
    with pytest.raises(SettingsError):
        settings.update({"temperature": 0.7, "top_p": 2})   # refused as a whole
    assert heard == [(0.5, ["temperature"])]
    assert settings.snapshot() == {**default_settings(), "temperature": 0.5}


def test_the_range_rule_is_on_by_default_and_a_job_can_turn_it_off():
    from notabridge.jobs.request import parse_job_request

    shared = default_settings()
    assert shared["range_rule"] is True
    job = parse_job_request({"mode": "generate"}, shared)
    assert job.range_rule is True
    job = parse_job_request({"mode": "generate", "settings": {"range_rule": False}}, shared)
    assert job.range_rule is False
