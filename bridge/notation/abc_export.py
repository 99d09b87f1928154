"""Score -> NotaGen interleaved ABC (what the model reads and writes)."""
from __future__ import annotations

from typing import Any, Sequence

from .interleave import clean_lines, interleave
from .sources import musicxml_bytes
from .xml2abc_run import musicxml_to_plain_abc


def prompt_lines(prompt: Sequence[str] | None) -> list[str]:
    """(period, composer, instrumentation) -> NotaGen's three `%` prompt lines (empty parts skipped)."""
    if not prompt:
        return []
    return [f"%{value.strip()}\n" for value in prompt if value and value.strip()]


def to_abc(source: Any, prompt: Sequence[str] | None = None, reduce_rests: bool = True,
           warnings: list[str] | None = None) -> str:
    """A music21 score, a .musicxml/.xml/.mxl path, MusicXML text or bytes -> NotaGen interleaved ABC.

    xml2abc in-process with `-d 8 -c 6 -x`, fields X: T: C: W: w: Z: %%MIDI and bar-number
    comments removed, then one line per bar with every voice (`[V:n]...|`), rest-only voice bars
    dropped when `reduce_rests`. Body lines carry no `[r:i/j]` prefix (notabridge.abc.patching adds them).
    `prompt` = (period, composer, instrumentation) adds NotaGen's `%` lines at the top.
    Messages xml2abc printed (skipped elements) are appended to `warnings` when given.
    Raises NotationError for unreadable input or voices with unequal bar counts.
    """
    text, messages = musicxml_to_plain_abc(musicxml_bytes(source))
    if warnings is not None:
        warnings.extend(messages)
    lines = interleave(clean_lines(text), reduce_rests=reduce_rests)
    return "".join(prompt_lines(prompt) + lines)
