"""Score -> NotaGen interleaved ABC (what the model reads and writes)."""
from __future__ import annotations

import re
from typing import Any, Sequence

from notabridge.abc.prompt import prompt_lines

from .errors import NotationError
from .notagen_chain import notagen_chain


def to_abc(source: Any, prompt: Sequence[str] | None = None, reduce_rests: bool = True,
           warnings: list[str] | None = None) -> str:
    """A music21 score, a .musicxml/.xml/.mxl path, MusicXML text or bytes -> NotaGen interleaved ABC.

    NotaGen's training-data chain (notabridge.notation.notagen_chain): xml2abc `-d 8 -c 6 -x`,
    cleanup, bar check, annotation rules, key normalisation at offset 0, one line per bar with
    every voice (`[V:n]...|`), rest-only voice bars dropped when `reduce_rests`. A bar where
    every voice rests keeps V:1's rest (NotaGen's training has no line there), so that body
    lines stay bars. Body lines carry no `[r:i/j]` prefix (notabridge.abc.patching adds them).
    `prompt` = (period, composer, instrumentation) adds NotaGen's `%` lines at the top.
    Messages (skipped elements) are appended to `warnings` when given.
    Raises NotationError for unreadable input or voices with unequal bar counts.
    """
    chain = notagen_chain(source, reduce_rests=reduce_rests)
    if warnings is not None:
        warnings.extend(chain.warnings)
    return "".join(prompt_lines(prompt) + chain.header + chain.bar_lines())


_INLINE_KEY = re.compile(r"\[K:\s*([A-G][#b]?[A-Za-z]*)\s*\]")  # a key, not a clef change ([K:bass])
_INLINE_METER = re.compile(r"\[M:\s*([^\]]+?)\s*\]")


def in_force(header: list[str], bars_before: list[str]) -> list[str]:
    """The header with K: and M: set to the last inline key and meter of the bars before a cut."""
    keys = [k for bar in bars_before for k in _INLINE_KEY.findall(bar)]
    meters = [m for bar in bars_before for m in _INLINE_METER.findall(bar)]
    out = []
    for line in header:
        if keys and line.startswith("K:"):
            line = f"K:{keys[-1]}\n"
        elif meters and line.startswith("M:"):
            line = f"M:{meters[-1]}\n"
        out.append(line)
    return out


def musicxml_to_abc(source: Any, prompt: Sequence[str] | None = None, measures: tuple[int, int] | None = None,
                    context: int = 0, warnings: list[str] | None = None) -> str:
    """A MusicXML file (or bytes) -> NotaGen's text of it, optionally only printed measures A..B.

    The bars are cut from the chain's text of the whole score (one line per bar), so they are
    exactly the lines NotaGen's training has for them; `context` keeps N measures before A. The
    header's K: and M: are those in force at the first bar kept.
    """
    from .musicxml_read import measure_numbers
    from .ranges import indices_for_numbers
    from .sources import musicxml_bytes

    xml = musicxml_bytes(source)
    chain = notagen_chain(xml)
    if warnings is not None:
        warnings.extend(chain.warnings)
        if re.search(rb"<lyric[\s>]", xml):
            warnings.append("lyrics were left out (NotaGen's text has none)")
    lines = chain.bar_lines()
    header = chain.header
    if measures is not None:
        numbers = measure_numbers(xml)
        if len(numbers) != len(lines):
            raise NotationError(f"the score has {len(numbers)} measures but its ABC {len(lines)} bars; "
                                "convert the whole score instead of --measures")
        start, end = indices_for_numbers({"measures": [{"index": i, "number": n} for i, n in enumerate(numbers)]},
                                         *measures)
        first = max(0, start - max(0, context))
        header = in_force(header, lines[:first])
        lines = lines[first:end]
    return "".join(prompt_lines(prompt) + header + lines)
