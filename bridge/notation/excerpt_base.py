"""Building blocks of excerpt JSON (docs/excerpt.md) shared by the readers and writers."""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from .durations import fraction_text, parse_fraction

FORMAT = "notabridge-excerpt"
VERSION = 2


def new_excerpt(title: str = "") -> dict:
    return {"format": FORMAT, "version": VERSION, "title": title, "parts": [], "staves": [],
            "measures": [], "warnings": []}


def measure_length(measure: dict) -> Fraction:
    """The actual length of a measure (its `duration`, else its time signature)."""
    if measure.get("duration"):
        return parse_fraction(measure["duration"])
    return time_length(measure["time"])


def time_parts(time: str) -> tuple[int, int]:
    """A time signature's (beats, beat unit), additive beats summed: "3/4" -> (3, 4), "2+3/8" -> (5, 8).
    The one reader of time signature text (notabridge.notation.bounds says which are allowed)."""
    beats, beat_type = time.split("/")
    return sum(int(b) for b in beats.split("+")), int(beat_type)


def time_length(time: str) -> Fraction:
    """A time signature's measure length in whole notes."""
    return Fraction(*time_parts(time))


def rest_event(length: Fraction) -> dict:
    return {"type": "rest", "duration": fraction_text(length)}


def staff_entry(measure: dict, staff: int) -> dict | None:
    return next((s for s in measure["staves"] if s["staff"] == staff), None)


def iter_voices(measure: dict):
    """(staff, voice, events) for every voice of a measure."""
    for staff in measure["staves"]:
        for voice in staff["voices"]:
            yield staff["staff"], voice["voice"], voice["events"]


def voice_onsets(events: list[dict]):
    """(onset, event) pairs; onsets are fractions of a whole note from the measure start."""
    onset = Fraction(0)
    for event in events:
        yield onset, event
        onset += parse_fraction(event["duration"])


def note_signature(excerpt: dict) -> dict[tuple[int, int, int], list[tuple]]:
    """(measure index, staff, voice) -> [(onset, duration, ((pitch, tpc), ...))] for sounding events.

    What the correctness sweep compares: onsets, durations, pitches with spelling, per voice.
    Rests are left out so that equal music written with differently split rests compares equal,
    and a chord tied to an identical chord in the same measure counts as one longer chord (a
    length such as 5/96 can only be written as two tied notes).
    """
    signature: dict[tuple[int, int, int], list[tuple]] = {}
    for measure in excerpt["measures"]:
        for staff, voice, events in iter_voices(measure):
            items: list[tuple] = []
            previous = None
            for onset, e in voice_onsets(events):
                if e["type"] != "chord":
                    previous = None
                    continue
                pitches = tuple(sorted((n["pitch"], n["tpc"]) for n in e["notes"]))
                length = parse_fraction(e["duration"])
                tied_on = (previous is not None and previous[2] == pitches and items and items[-1][0] + items[-1][1] == onset
                           and all(n.get("tie") in ("start", "continue") for n in previous[3])
                           and all(n.get("tie") in ("stop", "continue") for n in e["notes"]))
                if tied_on:
                    items[-1] = (items[-1][0], items[-1][1] + length, pitches)
                else:
                    items.append((onset, length, pitches))
                previous = (onset, length, pitches, e["notes"])
            if items:
                signature[(measure["index"], staff, voice)] = items
    return signature


def add_warning(excerpt: dict, message: str) -> None:
    if message not in excerpt["warnings"]:
        excerpt["warnings"].append(message)


def copy_excerpt(excerpt: dict) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(excerpt))
