"""One bar at a time between notes on a clock and NotaGen's interleaved ABC, for the live door.

- `melody_bar`: a quantised one-line melody bar (onsets on sixteenths or eighth triplets, in
  quarter notes from the bar line) -> one voice's ABC text, spelled in the key, as xml2abc
  writes a chorale voice (L:1/8, a space before each note that starts on a beat, `(3` triplets,
  `-` where the last note goes on into the next bar).
- `bar_notes`: one body line the model wrote -> each voice's notes (quarters from the bar
  line), ties marked, for the door to schedule.
- `live_header`: the ABC header of a take, made once by the same path as an offline accompany
  job (notabridge.notation.midi_clip), so both read the melody with the same voices and clefs.
- `take_excerpt`: the take's lines -> an excerpt (MusicXML through the usual writer).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

from .abc_fast import _Voice, key_alterations, parse_bar
from .durations import split_plain
from .errors import NotationError
from .spelling import default_tpc, octave_from_midi, step_from_tpc

UNIT = Fraction(1, 8)          # L:1/8, as in every NotaGen training header
_ACCIDENTAL = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}


@dataclass
class BarNote:
    start: Fraction      # quarters from the bar line
    end: Fraction
    pitch: int
    tie_in: bool = False     # goes on from the previous bar (no new attack)
    tie_out: bool = False    # goes on into the next bar


# ---- melody -> ABC ------------------------------------------------------------------------------

def _pitch_text(pitch: int, key_fifths: int, bar_alters: dict, key_alts: dict, from_tie: bool) -> str:
    """`from_tie`: the note goes on from the previous bar; its accidental is written whenever it
    differs from the key, so no reader has to remember the tie's alteration across the bar line."""
    step, alter = step_from_tpc(default_tpc(pitch, key_fifths + 3))   # as midi_clip.spell spells
    octave = octave_from_midi(pitch, step, alter)
    in_force = key_alts.get(step, 0) if from_tie else bar_alters.get((step, octave), key_alts.get(step, 0))
    accidental = ""
    if alter != in_force or (from_tie and (step, octave) in bar_alters and bar_alters[(step, octave)] != alter):
        if alter not in _ACCIDENTAL:
            raise NotationError(f"cannot spell MIDI pitch {pitch}")
        accidental = _ACCIDENTAL[alter]
    if accidental:
        bar_alters[(step, octave)] = alter    # an accidental holds to the end of the bar
    letter = step if octave <= 4 else step.lower()
    marks = "," * (4 - octave) if octave < 4 else "'" * (octave - 5) if octave > 5 else ""
    return accidental + letter + marks


def _length_text(units: Fraction) -> str:
    if units == 1:
        return ""
    if units.denominator == 1:
        return str(units.numerator)
    if units.numerator == 1:
        return "/" if units.denominator == 2 else f"/{units.denominator}"
    return f"{units.numerator}/{units.denominator}"


def _beamable(piece: tuple, triplet: bool = False) -> bool:
    start, end, note = piece
    return note is not None and (end - start < 1 or triplet)


def _is_triplet(value: Fraction) -> bool:
    return value.denominator % 3 == 0


def melody_bar(notes: list[BarNote], bar_quarters: Fraction, key_fifths: int,
               beat_quarters: Fraction = Fraction(1)) -> str:
    """One voice's ABC for a bar of a one-line melody (see the module docstring).

    Notes must not overlap; gaps become rests. A quarter beat holding an onset or end off the
    sixteenth grid is written as eighth triplets (`(3:2:n`); `beat_quarters` (the meter's beat)
    says where the spaces go."""
    key_alts = key_alterations(key_fifths)
    events: list[tuple[Fraction, Fraction, BarNote | None]] = []   # (start, end, note or rest)
    now = Fraction(0)
    for note in sorted(notes, key=lambda n: n.start):
        start, end = max(Fraction(0), Fraction(note.start)), min(bar_quarters, Fraction(note.end))
        if end <= start or start < now:
            raise NotationError("melody notes overlap or lie outside the bar")
        if start > now:
            events.append((now, start, None))
        events.append((start, end, note))
        now = end
    if now < bar_quarters:
        events.append((now, bar_quarters, None))
    triplets = {int(t) for s, e, _ in events for t in (s, e) if _is_triplet(t)}
    # cut events at the edges of triplet quarters, so each tuplet group holds one whole quarter
    pieces: list[tuple[Fraction, Fraction, BarNote | None]] = []
    for start, end, note in events:
        edges = {Fraction(q) for q in range(int(start) + 1, int(end) + 1)
                 if start < q < end and {q - 1, q} & triplets}
        cuts = sorted({start, end} | edges)
        pieces += [(a, b, note) for a, b in zip(cuts, cuts[1:])]
    out: list[str] = []
    bar_alters: dict = {}
    opened = set()
    for index, (start, end, note) in enumerate(pieces):
        quarter = int(start)
        # xml2abc's beaming: notes shorter than a quarter within a beat stay together
        beamed = index and _beamable(pieces[index - 1]) and _beamable(pieces[index], quarter in triplets)
        prefix = " " if out and (start % beat_quarters == 0 or not beamed) else ""
        if quarter in triplets:
            if quarter not in opened:   # n notes in the time of 2 eighths
                prefix += f"(3:2:{sum(1 for p in pieces if int(p[0]) == quarter)}"
                opened.add(quarter)
            values = [(end - start) * 3]                       # notated eighths = actual x 3/2
        else:
            values = [v * 8 for v in split_plain((end - start) / 4)]   # whole-note values -> L:1/8 units
        if note is None:
            out.append(prefix + "".join("z" + _length_text(u) for u in values))
            continue
        first = index == 0 or pieces[index - 1][2] is not note
        last = index == len(pieces) - 1 or pieces[index + 1][2] is not note
        texts = []
        for k, units in enumerate(values):
            from_tie = first and k == 0 and note.tie_in
            text = _pitch_text(note.pitch, key_fifths, bar_alters, key_alts, from_tie) + _length_text(units)
            if k < len(values) - 1 or not last or note.tie_out:
                text += "-"
            texts.append(text)
        out.append(prefix + "".join(texts))
    return "".join(out)


# ---- ABC bar -> notes ---------------------------------------------------------------------------

class VoiceReader:
    """Reads one voice's bars in order (keys, ties and accidentals carry as in ABC)."""

    def __init__(self, key_fifths: int, meter: str) -> None:
        self._voice = _Voice(key_fifths, UNIT, meter)

    def notes(self, content: str) -> list[BarNote]:
        events = parse_bar(content, self._voice, {"warnings": []}, {})
        out: list[BarNote] = []
        now = Fraction(0)
        for event in events:
            length = event["_length"] * 4      # whole notes -> quarters
            for n in event.get("notes", []):
                tie = n["tie"]
                previous = next((b for b in reversed(out) if b.pitch == n["pitch"] and b.end == now and b.tie_out), None)
                if tie in ("stop", "continue") and previous is not None:
                    previous.end = now + length
                    previous.tie_out = tie == "continue"
                    continue
                out.append(BarNote(now, now + length, n["pitch"], tie_in=tie in ("stop", "continue"),
                                   tie_out=tie in ("start", "continue")))
            now += length
        return out


def bar_notes(line: str, readers: dict[str, VoiceReader]) -> dict[str, list[BarNote]]:
    """One body line -> notes per voice (voices without a reader are left out)."""
    from notabridge.abc.bar_check import parse_line

    _, segments = parse_line(line)
    return {seg.voice: readers[seg.voice].notes(seg.content) for seg in segments if seg.voice in readers}


# ---- header and take ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def live_header(meter: tuple[int, int], key_fifths: int, key_mode: str, voices: int,
                prompt: tuple[str, str, str] | None) -> str:
    """Prompt and header lines of a take: the melody as soprano over `voices` parts."""
    from .excerpt_abc import excerpt_to_abc, split_abc
    from .midi_clip import ClipNote, MelodyClip, accompaniment_excerpt

    tpb = 480
    bar = tpb * 4 * meter[0] // meter[1]
    tonic = 60 + (7 * key_fifths + (9 if key_mode == "minor" else 0)) % 12
    clip = MelodyClip(ticks_per_beat=tpb, numerator=meter[0], denominator=meter[1], key_fifths=key_fifths,
                      key_mode=key_mode, key_estimated=False, tempo_bpm=120.0, notes=[ClipNote(0, bar, tonic)],
                      first_downbeat=0, pickup=0, measures=1)
    header, _ = split_abc(excerpt_to_abc(accompaniment_excerpt(clip, voices), prompt=prompt))
    return header


def take_excerpt(header: str, lines: list[str]) -> dict:
    """The take as an excerpt (melody and what was played), for MusicXML."""
    from .abc_import import abc_to_excerpt

    excerpt = abc_to_excerpt(header + "".join(lines))
    excerpt["title"] = "Live take"
    return excerpt
