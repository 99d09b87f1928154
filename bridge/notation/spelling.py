"""Pitch spelling: MuseScore's tonal pitch class (tpc) <-> MusicXML step/alter/octave <-> MIDI."""
from __future__ import annotations

_FIFTHS_ORDER = "FCGDAEB"  # tpc 13..19 are the naturals F C G D A E B
_STEP_SEMITONE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def tpc_from_step(step: str, alter: int) -> int:
    return 13 + _FIFTHS_ORDER.index(step) + 7 * alter


def step_from_tpc(tpc: int) -> tuple[str, int]:
    """tpc -> (step letter, alter in semitones)."""
    offset = tpc - 13
    return _FIFTHS_ORDER[offset % 7], offset // 7


def midi_from_spelling(step: str, alter: int, octave: int) -> int:
    return 12 * (octave + 1) + _STEP_SEMITONE[step] + alter


def octave_from_midi(pitch: int, step: str, alter: int) -> int:
    """The written octave of a MIDI pitch spelled with `step`+`alter` (B#3 is MIDI 60)."""
    return (pitch - alter - _STEP_SEMITONE[step]) // 12 - 1


def consistent(pitch: int, tpc: int) -> bool:
    step, alter = step_from_tpc(tpc)
    return (pitch - alter - _STEP_SEMITONE[step]) % 12 == 0


def default_tpc(pitch: int, key: int = 0) -> int:
    """A spelling for a bare MIDI pitch: the one closest to the key's centre on the line of fifths."""
    centre = 14 + key
    candidates = [t for t in range(-1, 34) if consistent(pitch, t)]
    return min(candidates, key=lambda t: (abs(t - centre), t))
