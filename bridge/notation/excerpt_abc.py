"""Excerpt JSON <-> NotaGen interleaved ABC, and the header/bars split the engine works with."""
from __future__ import annotations

from typing import Sequence

from .abc_export import to_abc
from .interleave import split_header_body
from .musicxml_write import excerpt_to_musicxml
from .validate import check_excerpt


def excerpt_to_abc(excerpt: dict, prompt: Sequence[str] | None = None, reduce_rests: bool = True,
                   warnings: list[str] | None = None, validate: bool = False) -> str:
    """Excerpt JSON -> NotaGen interleaved ABC (header, then one line per measure, no `[r:]`).

    The excerpt gets the quick checks (durations, spellings, references); `validate=True` adds
    the JSON Schema pass (validate_excerpt), which is what front doors should run on input.
    """
    check_excerpt(excerpt, schema=validate)
    return to_abc(excerpt_to_musicxml(excerpt), prompt=prompt, reduce_rests=reduce_rests, warnings=warnings)


def split_abc(abc_text: str) -> tuple[str, list[str]]:
    """Interleaved ABC -> (header text, body lines each ending in a newline; one line per bar).

    The engine keeps the header, feeds header + the bars before the new ones, and appends what
    it generates; `abc_to_excerpt(header + bars, template=excerpt)` reads the whole back.
    """
    header, body = split_header_body(abc_text)
    return "".join(header), body
