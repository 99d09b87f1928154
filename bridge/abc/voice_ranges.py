"""Which pitches each voice of a piece may be written with (the writer masks the others).

A voice's range comes from its instrument when the header names one NotaBridge knows (`nm=` of
its `V:` line), widened to the notes the user's bars give it; otherwise from those notes widened
by a fifth on each side; a voice with no given note gets its clef's usual range.
"""
from __future__ import annotations

import re

from notabridge.abc.syntax import VOICE_MARK, Scanner, pitch_number

FIFTH = 7
# (name keyword, lowest, highest) in MIDI numbers; the first keyword found in the name wins
INSTRUMENTS = (
    ("piccolo", 74, 108), ("flute", 60, 96), ("oboe", 58, 91), ("english horn", 52, 84),
    ("bass clarinet", 38, 77), ("clarinet", 50, 94), ("contrabassoon", 22, 53), ("bassoon", 34, 75),
    ("horn", 34, 77), ("trumpet", 54, 86), ("bass trombone", 34, 67), ("trombone", 40, 77), ("tuba", 26, 65),
    ("violin", 55, 103), ("viola", 48, 91), ("violoncello", 36, 84), ("cello", 36, 84),
    ("contrabass", 28, 67), ("double bass", 28, 67), ("guitar", 40, 88), ("harp", 24, 103),
    ("piano", 21, 108), ("harpsichord", 29, 89), ("organ", 24, 96), ("keyboard", 21, 108),
    ("soprano", 60, 81), ("mezzo", 57, 77), ("alto", 53, 77), ("contralto", 53, 77), ("tenor", 48, 69),
    ("baritone", 45, 67), ("bass", 40, 64),
)
CLEFS = {"treble": (55, 96), "treble-8": (43, 84), "alto": (48, 84), "tenor": (43, 79), "bass": (28, 67),
         "bass-8": (16, 55), "soprano": (55, 88), "mezzosoprano": (53, 84), "baritone": (36, 72)}
_NAME = re.compile(r'\bnm="([^"]*)"')


def _instrument(name: str) -> tuple[int, int] | None:
    low = name.lower()
    for keyword, lo, hi in INSTRUMENTS:
        if keyword in low:
            return lo, hi
    return None


def voice_ranges(header: list[str], body: list[str]) -> dict[str, tuple[int, int]]:
    """voice -> (lowest, highest) MIDI pitch it may be written with, from the header and the
    user's bars (`body`: interleaved lines, `[r:]` prefixes allowed)."""
    given: dict[str, list[int]] = {}
    for line in body:
        marks = list(VOICE_MARK.finditer(line))
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
            scanner = Scanner(keep_events=True).feed(line[mark.end():end])
            given.setdefault(mark.group(1), []).extend(
                pitch_number(a, letter, marks_) for e in scanner.events or [] for a, letter, marks_, _ in e.notes)
    ranges = {}
    for line in header:
        if not line.startswith("V:") or not line[2:].split():
            continue
        words = line[2:].split()
        voice = words[0]
        notes = given.get(voice, [])
        name = _NAME.search(line)
        known = _instrument(name.group(1)) if name else None
        if known:
            lo, hi = known
            ranges[voice] = (min([lo] + notes), max([hi] + notes))
        elif notes:
            ranges[voice] = (min(notes) - FIFTH, max(notes) + FIFTH)
        else:
            clef = next((w.removeprefix("clef=") for w in words[1:] if w.removeprefix("clef=") in CLEFS), "treble")
            ranges[voice] = CLEFS[clef]
    return ranges
