"""NotaGen's style prompt as ABC text: `%period`, `%composer`, `%instrumentation` lines before
the header. Training writes them, generation, scoring and prompt suggestion read them: one
definition, so the model is always given the lines it was trained on."""
from __future__ import annotations

from typing import Sequence


def prompt_lines(prompt: Sequence[str] | None) -> list[str]:
    """(period, composer, instrumentation) -> NotaGen's `%` prompt lines (empty parts skipped)."""
    if not prompt:
        return []
    return [f"%{value.strip()}\n" for value in prompt if value and value.strip()]


def prompt_text(prompt: Sequence[str] | None) -> str:
    """The prompt lines as one text, to put before a piece's header."""
    return "".join(prompt_lines(prompt))
