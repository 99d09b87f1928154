"""Shared generation settings: one validated set of knobs that every front door reads and writes.

A job uses these values unless it overrides them, so turning a knob in the panel (OSC) steers
the next MuseScore request (HTTP). Every change is announced to every subscriber, whoever made it.
"""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable

from notabridge.limits import BOUNDS, LIMITS, bound_problem, short_repr as _short


def _numeric(name: str, kind: str, default: Any) -> dict[str, Any]:
    bound = BOUNDS[name]
    return {"type": kind, "min": bound.low, "max": bound.high, "default": default}


# name -> (type description, min, max, default) for validation and /capabilities; the ranges
# themselves are notabridge.limits.BOUNDS, shared with the CLI and the engine's own checks
SETTING_RANGES: dict[str, dict[str, Any]] = {
    "temperature": _numeric("temperature", "number", 1.2),
    "top_k": _numeric("top_k", "integer", 9),
    "top_p": _numeric("top_p", "number", 0.9),
    "seed": _numeric("seed", "integer or null", None),
    "variants": _numeric("variants", "integer", 1),
    "bars": _numeric("bars", "integer", 4),
    "prompt": {"type": "object or null", "keys": ["period", "composer", "instrumentation"], "default": None},
    "order": {"type": "string", "choices": ["notagen", "standard"], "default": "notagen"},
    # no note outside each part's range (its instrument's, else the given bars' widened by a fifth)
    "range_rule": {"type": "boolean", "default": True},
}
SETTING_NAMES = tuple(SETTING_RANGES)
_PROMPT_KEYS = ("period", "composer", "instrumentation")
_MAX_PROMPT_FIELD = int(LIMITS["max_text_chars"])


class SettingsError(ValueError):
    """A settings value a client sent that cannot be used; the message says what would work."""


def default_settings() -> dict[str, Any]:
    return {name: copy.deepcopy(spec["default"]) for name, spec in SETTING_RANGES.items()}


def validate_setting(name: str, value: Any) -> Any:
    """Return the normalised value of one setting, or raise SettingsError saying what is allowed."""
    spec = SETTING_RANGES.get(name)
    if spec is None:
        raise SettingsError(f"unknown setting {_short(name)}; known settings: {', '.join(SETTING_NAMES)}")
    if name == "prompt":
        return _validate_prompt(value)
    if name == "order":
        if value not in spec["choices"]:
            raise SettingsError(f"order must be one of {spec['choices']}, not {_short(value)}")
        return value
    if spec["type"] == "boolean":
        if isinstance(value, bool) or value in (0, 1):   # OSC sends 0/1
            return bool(value)
        raise SettingsError(f"{name} must be true or false, not {value!r}")
    if name == "seed" and value is None:
        return None
    problem = bound_problem(name, value)   # also NaN, infinities and 400-digit integers
    if problem:
        raise SettingsError(problem)
    return int(value) if BOUNDS[name].integer else float(value)




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
