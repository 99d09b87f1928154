"""Shared generation settings: one validated set of knobs that every front door reads and writes.

A job uses these values unless it overrides them, so turning a knob in the panel (OSC) steers
the next MuseScore request (HTTP). Every change is announced to every subscriber, whoever made it.
"""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable

# name -> (type description, min, max, default); the single source for validation and /capabilities
SETTING_RANGES: dict[str, dict[str, Any]] = {
    "temperature": {"type": "number", "min": 0.05, "max": 5.0, "default": 1.2},
    "top_k": {"type": "integer", "min": 0, "max": 128, "default": 9},
    "top_p": {"type": "number", "min": 0.01, "max": 1.0, "default": 0.9},
    "seed": {"type": "integer or null", "min": 0, "max": 2**31 - 1, "default": None},
    "variants": {"type": "integer", "min": 1, "max": 8, "default": 1},
    "bars": {"type": "integer", "min": 1, "max": 32, "default": 4},
    "prompt": {"type": "object or null", "keys": ["period", "composer", "instrumentation"], "default": None},
    "order": {"type": "string", "choices": ["notagen", "standard"], "default": "notagen"},
    # no note outside each part's range (its instrument's, else the given bars' widened by a fifth)
    "range_rule": {"type": "boolean", "default": True},
}
SETTING_NAMES = tuple(SETTING_RANGES)
_PROMPT_KEYS = ("period", "composer", "instrumentation")
_MAX_PROMPT_FIELD = 200


class SettingsError(ValueError):
    """A settings value a client sent that cannot be used; the message says what would work."""


def default_settings() -> dict[str, Any]:
    return {name: copy.deepcopy(spec["default"]) for name, spec in SETTING_RANGES.items()}


def validate_setting(name: str, value: Any) -> Any:
    """Return the normalised value of one setting, or raise SettingsError saying what is allowed."""
    spec = SETTING_RANGES.get(name)
    if spec is None:
        raise SettingsError(f"unknown setting {name!r}; known settings: {', '.join(SETTING_NAMES)}")
    if name == "prompt":
        return _validate_prompt(value)
    if name == "order":
        if value not in spec["choices"]:
            raise SettingsError(f"order must be one of {spec['choices']}, not {value!r}")
        return value
    if spec["type"] == "boolean":
        if isinstance(value, bool) or value in (0, 1):   # OSC sends 0/1
            return bool(value)
        raise SettingsError(f"{name} must be true or false, not {value!r}")
    if name == "seed" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{name} must be a number between {spec['min']} and {spec['max']}, not {value!r}")
    if value != value or value in (float("inf"), float("-inf")):   # NaN, infinity: int() would raise
        raise SettingsError(f"{name} must be a number between {spec['min']} and {spec['max']}, not {value!r}")
    if spec["type"].startswith("integer"):
        if float(value) != int(value):
            raise SettingsError(f"{name} must be a whole number, not {value!r}")
        value = int(value)
    else:
        value = float(value)
        if value != value:  # NaN
            raise SettingsError(f"{name} must be a number, not NaN")
    if not spec["min"] <= value <= spec["max"]:
        raise SettingsError(f"{name} must be between {spec['min']} and {spec['max']}, not {value!r}")
    return value


def _validate_prompt(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and len(value) == 3:
        value = dict(zip(_PROMPT_KEYS, value))
    if not isinstance(value, dict) or set(value) != set(_PROMPT_KEYS):
        raise SettingsError('prompt must be null or {"period": ..., "composer": ..., "instrumentation": ...}')
    for key in _PROMPT_KEYS:
        if not isinstance(value[key], str) or len(value[key]) > _MAX_PROMPT_FIELD:
            raise SettingsError(f"prompt.{key} must be a string of at most {_MAX_PROMPT_FIELD} characters")
    return {key: value[key] for key in _PROMPT_KEYS}


def validate_settings(changes: Any) -> dict[str, Any]:
    """Validate a partial settings object; all of it or none of it is accepted."""
    if not isinstance(changes, dict):
        raise SettingsError("settings must be a JSON object such as {\"temperature\": 1.0}")
    return {name: validate_setting(name, value) for name, value in changes.items()}


Subscriber = Callable[[dict[str, Any], list[str]], None]


class SharedSettings:
    """Thread-safe settings with change subscribers (called with the full settings and the changed names)."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._values = default_settings()
        if initial:
            self._values.update(validate_settings(initial))
        self._subscribers: list[Subscriber] = []

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._values)

    def update(self, changes: Any) -> dict[str, Any]:
        """Apply a partial update (validated as a whole), tell every subscriber, return the full settings."""
        clean = validate_settings(changes)
        with self._lock:
            changed = [name for name, value in clean.items() if self._values[name] != value]
            self._values.update(clean)
            full = copy.deepcopy(self._values)
            subscribers = list(self._subscribers)
        if changed:
            for subscriber in subscribers:
                try:
                    subscriber(copy.deepcopy(full), changed)
                except Exception:  # one broken listener must not stop the others hearing the change
                    pass
        return full

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
