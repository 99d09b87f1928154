"""Chained period -> composer -> instrumentation choices from the model's prompt list, so only
combinations the model was trained on can be picked."""
from __future__ import annotations

from typing import Iterable

Prompt = tuple[str, str, str]


def _unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values), key=str.casefold)


def periods(prompts: list[Prompt]) -> list[str]:
    return _unique(p[0] for p in prompts)


def composers(prompts: list[Prompt], period: str) -> list[str]:
    return _unique(p[1] for p in prompts if p[0] == period)


def instrumentations(prompts: list[Prompt], period: str, composer: str) -> list[str]:
    return _unique(p[2] for p in prompts if p[0] == period and p[1] == composer)


def normalise(prompts: Iterable) -> list[Prompt]:
    return [tuple(str(x) for x in p) for p in prompts if len(p) == 3]  # type: ignore[misc]
