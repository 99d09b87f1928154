"""Bar validity for NotaGen's interleaved ABC: every voice of a bar fills its time signature.

One body line holds one bar of every voice: `[V:1]...|[V:2]...|`. A line is valid when each
voice's notes and rests sum to the bar's length (M: in force, measured in the L: in force,
inline `[M:]`/`[L:]` changes honoured, `&` overlays each filling the bar), every voice is one
the header declares, and none repeats. Voices the model left out (NotaGen drops rest-only
voice bars in training) are filled with rests. Durations come from the one ABC reader of
notabridge.abc.syntax, the one the bar writer and the notation layer use.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from .syntax import (INLINE_FIELD, LINE_PREFIX, VOICE_MARK, Scanner, default_unit, is_compound, measure,  # noqa: F401
                     parse_meter, parse_unit, pitch_number, unreadable)

BARLINE_END = re.compile(r"(\|\]|\|\||:\|\]?|\|:|::|\[\||\|)(\[?\d[\d,.-]*)?\s*$")  # volta numbers after it
LOWEST, HIGHEST = 21, 108   # A0 .. C8: what orchestral instruments play (MIDI numbers)


def out_of_range(content: str) -> str | None:
    """The first note written outside A0..C8 (a weak model's `C,,,,,,`), or None."""
    scanner = Scanner(keep_events=True).feed(content).finish()
    for event in scanner.events or []:
        for acc, letter, marks, _ in event.notes:
            if not LOWEST <= pitch_number(acc, letter, marks) <= HIGHEST:
                return (acc or "") + letter + marks
    return None


@dataclass
class VoiceState:
    unit: Fraction                 # L: length of a note without a number, in whole notes
    bar: Fraction | None           # M: bar length in whole notes; None for free meter (M:none)
    compound: bool = False         # 6/8-like meter (the time of 5-, 7-, 9-tuplets)


@dataclass
class BarContext:
    """What the header (and earlier inline changes) put in force."""

    voices: list[str]
    default: VoiceState
    key: str = "C"
    states: dict[str, VoiceState] = field(default_factory=dict)

    def state(self, voice: str) -> VoiceState:
        return self.states.get(voice, self.default)


@dataclass
class Segment:
    voice: str
    content: str                   # notes between `[V:n]` and the barline
    barline: str


@dataclass
class BarCheck:
    valid: bool
    reasons: list[str]
    line: str                      # the bar with missing voices filled with rests (when valid)
    length: Fraction | None = None # the bar's length in whole notes


_KEY_VALUE = re.compile(r"^(?:[A-G][#b]?[A-Za-z]*|none|Hp|HP)$")


def _changes_meter_or_key(content: str) -> bool:
    """An inline [M:] or a key-signature [K:] (a clef-only [K:bass] is not a key change)."""
    for m in INLINE_FIELD.finditer(content):
        value = m.group(2).split()
        if m.group(1) == "M" or (m.group(1) == "K" and value and _KEY_VALUE.match(value[0])):
            return True
    return False


def _or_none(parse, text: str):
    try:
        return parse(text)
    except (ValueError, ZeroDivisionError, IndexError):
        return None


def _readable(parse, text: str) -> bool:
    try:
        parse(text)
        return True
    except (ValueError, ZeroDivisionError, IndexError):
        return False


def header_problems(header: list[str]) -> list[str]:
    """What a header lacks to be read as a piece: a readable meter, unit and key, and a voice."""
    problems = []
    for field, what in (("M:", "meter (M:)"), ("K:", "key (K:)"), ("V:", "voice (V:)")):
        if not any(line.startswith(field) for line in header):
            problems.append(f"the header has no {what}")
    for line in header:
        if line.startswith("M:") and not _readable(parse_meter, line[2:]):
            problems.append(f"the header's meter cannot be read: {line.strip()!r}")
        if line.startswith("L:") and not _readable(parse_unit, line[2:]):
            problems.append(f"the header's unit length cannot be read: {line.strip()!r}")
    return problems


def header_context(header: list[str] | str) -> BarContext:
    """L:, M:, K: and the V: lines of a header (a list of lines or one text)."""
    lines = header.splitlines() if isinstance(header, str) else [line.rstrip("\n") for line in header]
    meter: Fraction | None = None
    compound = False
    unit: Fraction | None = None
    key = "C"
    voices: list[str] = []
    for line in lines:
        if line.startswith("M:"):
            meter = _or_none(parse_meter, line[2:])
            compound = is_compound(line[2:])
        elif line.startswith("L:"):
            unit = _or_none(parse_unit, line[2:])
        elif line.startswith("K:"):
            key = line[2:].strip()
        elif line.startswith("V:"):
            voice = line[2:].split()[0] if line[2:].split() else ""
            if voice and voice not in voices:
                voices.append(voice)
    if unit is None:
        unit = default_unit(meter)
    return BarContext(voices=voices, default=VoiceState(unit, meter, compound), key=key)


def parse_line(line: str) -> tuple[str, list[Segment]]:
    """A body line -> (text before the first voice, segments). `[r:i/j]` prefixes are dropped."""
    line = LINE_PREFIX.sub("", line.rstrip("\n"), count=1)
    marks = list(VOICE_MARK.finditer(line))
    if not marks:
        return line, []
    lead = line[:marks[0].start()]
    segments = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
        body = line[mark.end():end]
        m = BARLINE_END.search(body)
        content, barline = (body[:m.start()], m.group(0).strip()) if m else (body, "")
        segments.append(Segment(mark.group(1), content, barline))
    return lead, segments


def voice_duration(content: str, state: VoiceState) -> tuple[Fraction | None, VoiceState]:
    """Duration of one voice's bar in whole notes, honouring inline [L:]/[M:] changes, and the
    state in force after it. Overlays (`&`) must each have the same duration."""
    scanner = measure(content, state.unit, state.bar, state.compound)
    value = scanner.complete_value()
    if value is None:
        return None, state
    return value, VoiceState(scanner.unit, scanner.bar, scanner.compound)


def rest_text(length: Fraction, unit: Fraction) -> str:
    """Rests filling `length` (whole notes) in units of `unit`: z8, z, z3/2."""
    n = length / unit
    if n == 1:
        return "z"
    if n.denominator == 1:
        return f"z{n.numerator}"
    return f"z{n.numerator}/{n.denominator}"


def check_bar(line: str, ctx: BarContext, expected: Fraction | None = None, pickup_ok: bool = False,
              keep_meter_and_key: bool = False) -> BarCheck:
    """Is this body line a well-formed bar? Fills missing voices with rests when it is.

    `expected`: the bar length when known from elsewhere (given voices); otherwise the M: in
    force. `pickup_ok`: a shorter bar (anacrusis) is fine when all voices agree.
    `keep_meter_and_key`: inline M:/K: changes are refused (continuations keep them).
    """
    lead, segments = parse_line(line)
    reasons = []
    if not line.endswith("\n") and not line.endswith("|"):
        reasons.append("the bar is unfinished")
    if lead.strip():
        reasons.append(f"text before the first voice: {lead!r}")
    if not segments:
        return BarCheck(False, reasons + ["no voice in the bar"], line)
    seen = [s.voice for s in segments]
    unknown = [v for v in seen if ctx.voices and v not in ctx.voices]
    if unknown:
        reasons.append(f"voices not in the header: {', '.join(unknown)}")
    if len(set(seen)) != len(seen):
        reasons.append("a voice appears twice")
    if keep_meter_and_key and any(_changes_meter_or_key(s.content) for s in segments):
        reasons.append("the bar changes meter or key")
    lengths, targets, states = {}, {}, {}
    for seg in segments:
        junk = unreadable(seg.content)
        if junk is not None:
            reasons.append(f"voice {seg.voice}: not ABC music at {junk!r}")
            continue
        wild = out_of_range(seg.content)
        if wild is not None:
            reasons.append(f"voice {seg.voice}: note {wild} is outside what instruments play (A0..C8)")
            continue
        dur, after = voice_duration(seg.content, ctx.state(seg.voice))
        if dur is None:
            reasons.append(f"voice {seg.voice}: durations cannot be read")
            continue
        lengths[seg.voice] = dur
        targets[seg.voice] = after.bar
        states[seg.voice] = after
    if reasons:
        return BarCheck(False, reasons, line)
    bar_length = expected
    for seg in segments:
        target = expected if expected is not None else targets[seg.voice]
        dur = lengths[seg.voice]
        if target is None:
            target = bar_length if bar_length is not None else dur
        if dur != target and not (pickup_ok and 0 < dur < target):
            reasons.append(f"voice {seg.voice} lasts {dur} of a whole note, the bar {target}")
        bar_length = bar_length if bar_length is not None else target
    if pickup_ok and len(set(lengths.values())) > 1:
        reasons.append("voices of the pickup bar differ in length")
    if reasons:
        return BarCheck(False, reasons, line)
    length = next(iter(lengths.values()))
    for voice, state in states.items():
        ctx.states[voice] = state
    return BarCheck(True, [], fill_missing_voices(segments, ctx, length), length)


def fill_missing_voices(segments: list[Segment], ctx: BarContext, length: Fraction) -> str:
    """The bar as one line with every header voice, in header order; absent voices get rests."""
    by_voice = {s.voice: s for s in segments}
    barline = segments[-1].barline or "|"
    order = ctx.voices or [s.voice for s in segments]
    order = order + [s.voice for s in segments if s.voice not in order]
    parts = []
    for voice in order:
        seg = by_voice.get(voice)
        if seg is None:
            parts.append(f"[V:{voice}]{rest_text(length, ctx.state(voice).unit)}{barline}")
        else:
            parts.append(f"[V:{voice}]{seg.content}{seg.barline or barline}")
    return "".join(parts) + "\n"


def follow_line(ctx: BarContext, line: str) -> None:
    """Apply a given bar's inline [L:]/[M:] changes to `ctx`, valid or not."""
    for seg in parse_line(line)[1]:
        dur, after = voice_duration(seg.content, ctx.state(seg.voice))
        if dur is not None:
            ctx.states[seg.voice] = after
