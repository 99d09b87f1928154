"""Reading the list of style prompts a model knows (for a bundle's prompts.json).

Two formats: NotaGen's `prompts.txt` (one `Period_Composer_Instrumentation` per line, blank
lines and `#` comments skipped) or JSON (a list of [period, composer, instrumentation] lists or
of {"period", "composer", "instrumentation"} objects). No torch here.
"""
from __future__ import annotations

import json
from pathlib import Path

Prompt = tuple[str, str, str]
_FIELDS = ("period", "composer", "instrumentation")


class PromptsError(ValueError):
    """The prompts file cannot be read; the message names the line or item."""


def read_prompts(path: str | Path) -> list[Prompt]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptsError(f"cannot read prompts file {path}: {exc}") from None
    if text.lstrip().startswith("["):
        return _from_json(path, text)
    return _from_lines(path, text)


def _from_lines(path: Path, text: str) -> list[Prompt]:
    prompts: list[Prompt] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("_")
        if len(parts) < 3:
            raise PromptsError(f"{path}:{number}: expected Period_Composer_Instrumentation, got {line!r}")
        # period and instrumentation never hold '_'; a composer might
        prompts.append(_checked(path, number, (parts[0], "_".join(parts[1:-1]), parts[-1])))
    return _unique(prompts)


def _from_json(path: Path, text: str) -> list[Prompt]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptsError(f"{path}: not valid JSON: {exc}") from None
    prompts: list[Prompt] = []
    for number, item in enumerate(items, 1):
        if isinstance(item, dict):
            item = [item.get(f) for f in _FIELDS]
        if not isinstance(item, (list, tuple)) or len(item) != 3:
            raise PromptsError(f"{path}: item {number} is not [period, composer, instrumentation]: {item!r}")
        prompts.append(_checked(path, number, tuple(item)))
    return _unique(prompts)


def _checked(path: Path, number: int, prompt: tuple) -> Prompt:
    if not all(isinstance(p, str) and p.strip() for p in prompt):
        raise PromptsError(f"{path}: entry {number} has an empty or non-text field: {list(prompt)!r}")
    return tuple(p.strip() for p in prompt)  # type: ignore[return-value]


def _unique(prompts: list[Prompt]) -> list[Prompt]:
    return list(dict.fromkeys(prompts))
