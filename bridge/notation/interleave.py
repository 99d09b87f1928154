"""NotaGen's text pipeline on xml2abc output: cleanup, bar-count check, interleaving, rest reduction.

Follows NotaGen's data/2_data_preprocess.py step by step (without the key augmentation, which
is a training-time choice) and the inverse used at inference (rest un-reduction).
"""
from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from fractions import Fraction

from .errors import NotationError

INFO_FIELDS_REMOVED = ["X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI"]
_QUOTE = re.compile(r'"[^"]*"')
_REPEATED_SYMBOL = re.compile(r"([^a-zA-Z0-9])\1+")
_BAR_NUMBER_COMMENT = re.compile(r"%\d+\n$")
_VOICE_SEGMENT = re.compile(r"\[V:(\d+)\](.*?)(?=\[V:|$)")
_LINE_PREFIX = re.compile(r"^\[r:[^\]]*\]")
_INLINE_METER = re.compile(r"\[M:\s*(\d+)/(\d+)\s*\]")


def clean_lines(abc_text: str) -> list[str]:
    """xml2abc text -> NotaGen-clean lines (each ending in a newline)."""
    from abctoolkit.utils import Barlines, remove_bar_no_annotations, remove_information_field
    from unidecode import unidecode

    lines = [unidecode(line) + "\n" for line in abc_text.splitlines() if line.strip()]
    lines = remove_information_field(abc_lines=lines, info_fields=INFO_FIELDS_REMOVED)
    try:
        lines = remove_bar_no_annotations(lines)
    except Exception as exc:  # abctoolkit raises a bare Exception when there is no voice
        raise NotationError("xml2abc produced no voice (the score has no notes?)") from exc
    cleaned = []
    for line in lines:
        if not (re.search(r"^[A-Za-z]:", line) or line.startswith("%")):
            line = line.replace(r"\"", "")
        for quoted in _QUOTE.findall(line):  # annotations holding barline characters would split bars
            if any(barline in quoted for barline in Barlines):
                line = line.replace(quoted, "")
        cleaned.append(line)
    return cleaned


def _tidy_annotations(line: str) -> str:
    # NotaGen: drop empty annotations, squeeze repeated symbols, drop annotations over 40 chars.
    for match in _QUOTE.findall(line):
        if match == '""':
            line = line.replace(match, "")
        if match[1] in ("^", "_"):
            squeezed = _REPEATED_SYMBOL.sub(r"\1", match)
            line = line.replace(match, squeezed if len(squeezed) <= 40 else "")
    return line


def split_voices(lines: list[str]):
    """(header lines, prefix, left barlines, bar texts, right barlines) per voice; checks bar counts."""
    from abctoolkit.utils import extract_barline_and_bartext_dict

    try:
        parts = extract_barline_and_bartext_dict(list(lines))
    except NotationError:
        raise
    except Exception as exc:
        raise NotationError(f"cannot split the ABC into voices and bars: {exc}") from exc
    header, prefix, left, bars, right = parts
    counts = {symbol: len(texts) for symbol, texts in bars.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{s}: {n}" for s, n in counts.items())
        raise NotationError(f"the voices have unequal bar counts ({detail}); NotaGen cannot interleave them")
    if "V:1" not in bars:
        raise NotationError("the ABC has no voice V:1")
    return header, prefix, left, bars, right


def is_rest_only(bar_text: str) -> bool:
    """NotaGen's test: a bar is dropped when it has no letter other than z/Z/x/X."""
    return not any(ch.isalpha() and ch not in "zZxX" for ch in bar_text)


def interleave(lines: list[str], reduce_rests: bool = True) -> list[str]:
    """Clean lines -> header lines + one line per bar holding `[V:n]bar|` of every (non-rest) voice."""
    lines = [_tidy_annotations(line) for line in lines]
    header, prefix, left, bars, right = split_voices(lines)
    out = [line if line.endswith("\n") else line + "\n" for line in header]
    for i in range(len(bars["V:1"])):
        body = []
        for symbol in prefix:
            if reduce_rests and is_rest_only(bars[symbol][i]):
                continue
            start = prefix[symbol] + left[symbol][0] if i == 0 else ""
            body.append(f"[{symbol}]{start}{bars[symbol][i]}{right[symbol][i]}")
        if not body:
            # NotaGen would leave an empty line here; V:1's rest is kept so that no bar line is
            # blank (a blank line ends an ABC tune, and a blank first line hides the body start).
            start = prefix["V:1"] + left["V:1"][0] if i == 0 else ""
            body.append(f"[V:1]{start}{bars['V:1'][i]}{right['V:1'][i]}")
        out.append("".join(body) + "\n")
    return out


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
    for line in header_lines:
        m = re.match(r"M:\s*(\d+)/(\d+)", line)
        if m:
            return Fraction(int(m.group(1)), int(m.group(2)))
        if re.match(r"M:\s*C\|", line):
            return Fraction(1)
        if re.match(r"M:\s*C", line):
            return Fraction(1)
    return None


def _unit_length(header_lines: list[str]) -> Fraction:
    for line in header_lines:
        m = re.match(r"L:\s*(\d+)/(\d+)", line)
        if m:
            return Fraction(int(m.group(1)), int(m.group(2)))
    return Fraction(1, 8)


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
    from abctoolkit.duration import calculate_bartext_duration
    from abctoolkit.utils import Barline_regexPattern

    header, body = split_header_body(abc_text)
    rests = voice_rest_symbols(header)
    if not rests:
        raise NotationError("the ABC header declares no voices (V: lines)")
    unit = _unit_length(header)
    meter = _meter_length(header)
    out = list(header)
    for i, line in enumerate(body):
        line = _LINE_PREFIX.sub("", line.rstrip("\n"))
        segments = {f"V:{n}": text for n, text in _VOICE_SEGMENT.findall(line)}
        inline_meter = _INLINE_METER.search(line)
        if inline_meter:
            meter = Fraction(int(inline_meter.group(1)), int(inline_meter.group(2)))
        lengths: Counter = Counter()
        right_barline = "|"
        for text in segments.values():
            pieces = re.split(Barline_regexPattern, text)
            if len(pieces) >= 3:
                right_barline = "".join(pieces[-2:])
                bar = text[: len(text) - len(right_barline)]
            else:
                bar = text
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # it prints what it cannot read
                    length = calculate_bartext_duration(bar)
            except Exception:
                length = None
            if length is not None:
                lengths[Fraction(length)] += 1
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
