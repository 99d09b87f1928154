"""Interleaved ABC helpers: header/body split, and the inverse of NotaGen's rest reduction.

The forward chain (xml2abc output -> NotaGen's text) is notabridge.notation.notagen_chain.
"""
from __future__ import annotations

import contextlib
import re
from collections import Counter
from fractions import Fraction

from notabridge.abc.syntax import (BARLINE_SPLIT, INLINE_FIELD, default_unit, is_compound, measure, parse_meter,
                                   parse_unit)

from .errors import NotationError

_VOICE_SEGMENT = re.compile(r"\[V:(\d+)\](.*?)(?=\[V:|$)")
_LINE_PREFIX = re.compile(r"^\[r:[^\]]*\]")


def interleave(lines: list[str], reduce_rests: bool = True) -> list[str]:
    """Plain ABC lines (voice after voice) -> header lines + one line per bar (NotaGen's step 6);
    a bar where every voice rests keeps V:1's rest so that no body line is blank."""
    from .notagen_chain import interleave_bars, tidy_annotations

    header, bars, silent = interleave_bars(tidy_annotations(lines), reduce_rests=reduce_rests)
    return header + [bar or silent[i] for i, bar in enumerate(bars)]


def voice_rest_symbols(header_lines: list[str]) -> dict[str, str]:
    """Voice -> rest letter used when un-reducing: `z` for the first voice of a %%score group, else `x`."""
    groups: list[list[str]] = []
    voices: list[str] = []
    for line in header_lines:
        if line.startswith("%%score"):
            groups.extend(match.split() for match in re.findall(r"\((.*?)\)", line))
        if line.startswith("V:"):
            voices.append(line.split()[0])
    grouped = {v for group in groups for v in group}
    rest = {}
    for group in groups + [[v[2:]] for v in voices if v[2:] not in grouped]:
        for j, number in enumerate(group):
            rest[f"V:{number}"] = "z" if j == 0 else "x"
    return {v: rest.get(v, "z") for v in sorted(voices, key=lambda v: int(v[2:]))}


def _meter_length(header_lines: list[str]) -> Fraction | None:
    """The header's bar length (abc.syntax reads the meter; None: no meter, free or unreadable)."""
    for line in header_lines:
        if line.startswith("M:"):
            try:
                return parse_meter(line[2:])
            except (ValueError, ZeroDivisionError, IndexError):
                return None
    return None


def _unit_length(header_lines: list[str], meter: Fraction | None) -> Fraction:
    for line in header_lines:
        if line.startswith("L:"):
            with contextlib.suppress(ValueError, ZeroDivisionError):
                return parse_unit(line[2:])
    return default_unit(meter)


def _rest_text(letter: str, units: Fraction) -> str:
    if units == 1:
        return letter
    if units.denominator == 1:
        return f"{letter}{units.numerator}"
    return f"{letter}{units.numerator}/{units.denominator}"


def split_header_body(abc_text: str) -> tuple[list[str], list[str]]:
    """Interleaved ABC -> (header lines, body lines); the body starts at the first `[V:`/`[r:` line."""
    lines = [line + "\n" for line in abc_text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line.startswith(("[V:", "[r:"))), len(lines))
    body = lines[start:]
    while body and not body[-1].strip():
        body.pop()
    return lines[:start], body  # a blank line inside the body is a bar where every voice rests


def unreduce(abc_text: str) -> str:
    """Put rests of the bar's length back for voices missing from a line; strip `[r:]` prefixes.

    The bar length is the most common length among the voices present; a line with no voice at
    all gets the meter in force.
    """
    header, body = split_header_body(abc_text)
    rests = voice_rest_symbols(header)
    if not rests:
        raise NotationError("the ABC header declares no voices (V: lines)")
    meter = _meter_length(header)
    unit = _unit_length(header, meter)
    compound = any(line.startswith("M:") and is_compound(line[2:]) for line in header)
    out = list(header)
    for i, line in enumerate(body):
        line = _LINE_PREFIX.sub("", line.rstrip("\n"))
        segments = {f"V:{n}": text for n, text in _VOICE_SEGMENT.findall(line)}
        for name, value in INLINE_FIELD.findall(line):
            if name == "M":
                with contextlib.suppress(ValueError, ZeroDivisionError, IndexError):
                    meter, compound = parse_meter(value), is_compound(value)
        lengths: Counter = Counter()
        right_barline = "|"
        for text in segments.values():
            pieces = BARLINE_SPLIT.split(text)
            if len(pieces) >= 3:
                right_barline = "".join(pieces[-2:])
                bar = text[: len(text) - len(right_barline)]
            else:
                bar = text
            length = measure(bar, Fraction(1), compound=compound).complete_value()   # in units of L
            if length is not None:
                lengths[length] += 1
        if lengths:
            units = lengths.most_common(1)[0][0]
        elif meter is not None:
            units = meter / unit
        else:
            raise NotationError(f"body line {i + 1} has no voice and the header no meter")
        lead = line.split("[V:")[0] if i == 0 else ""
        rebuilt = ""
        for symbol, letter in rests.items():
            text = segments.get(symbol)
            if text is None:
                text = lead + _rest_text(letter, units) + right_barline
            rebuilt += f"[{symbol}]{text}"
        out.append(rebuilt + "\n")
    return "".join(out)
