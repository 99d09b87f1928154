"""Score -> NotaGen interleaved ABC (what the model reads and writes)."""
from __future__ import annotations

from typing import Any, Sequence

from .notagen_chain import notagen_chain


def prompt_lines(prompt: Sequence[str] | None) -> list[str]:
    """(period, composer, instrumentation) -> NotaGen's three `%` prompt lines (empty parts skipped)."""
    if not prompt:
        return []
    return [f"%{value.strip()}\n" for value in prompt if value and value.strip()]


def to_abc(source: Any, prompt: Sequence[str] | None = None, reduce_rests: bool = True,
           warnings: list[str] | None = None) -> str:
    """A music21 score, a .musicxml/.xml/.mxl path, MusicXML text or bytes -> NotaGen interleaved ABC.

    NotaGen's training-data chain (bridge.notation.notagen_chain): xml2abc `-d 8 -c 6 -x`,
    cleanup, bar check, annotation rules, key normalisation at offset 0, one line per bar with
    every voice (`[V:n]...|`), rest-only voice bars dropped when `reduce_rests`. A bar where
    every voice rests keeps V:1's rest (NotaGen's training has no line there), so that body
    lines stay bars. Body lines carry no `[r:i/j]` prefix (bridge.patching adds them).
    `prompt` = (period, composer, instrumentation) adds NotaGen's `%` lines at the top.
    Messages (skipped elements) are appended to `warnings` when given.
    Raises NotationError for unreadable input or voices with unequal bar counts.
    """
    chain = notagen_chain(source, reduce_rests=reduce_rests)
    if warnings is not None:
        warnings.extend(chain.warnings)
    return "".join(prompt_lines(prompt) + chain.header + chain.bar_lines())
