"""Excerpt JSON v1 -> MusicXML (partwise), written directly with ElementTree.

Pitches are written as concert pitch with an explicit <alter> (0 included) and no <accidental>,
so that xml2abc derives the accidentals from the spelling alone. Every voice used anywhere in
the excerpt is written in every measure (as a rest where absent), which makes xml2abc number
the ABC voices in (part, staff, voice) order: see `abc_voice_slots`.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from fractions import Fraction

from .durations import default_tuplet, is_plain, notated_value, parse_fraction, split_plain
from .errors import NotationError
from .excerpt_base import measure_length, staff_entry
from .spelling import octave_from_midi, step_from_tpc

_CLEF_SIGNS = {"treble": ("G", 2, 0), "treble8vb": ("G", 2, -1), "treble8va": ("G", 2, 1), "bass": ("F", 4, 0),
               "bass8vb": ("F", 4, -1), "baritone": ("F", 3, 0), "alto": ("C", 3, 0), "tenor": ("C", 4, 0),
               "soprano": ("C", 1, 0), "mezzo-soprano": ("C", 2, 0), "baritone-c": ("C", 5, 0),
               "french": ("G", 1, 0), "percussion": ("percussion", 0, 0), "tab": ("TAB", 5, 0)}


def _sub(parent: ET.Element, tag: str, text: str | int | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = str(text)
    return element


def voices_used(excerpt: dict) -> dict[int, list[int]]:
    """staff -> sorted voice numbers used in any measure (voice 0 always)."""
    used: dict[int, set[int]] = {s["index"]: {0} for s in excerpt["staves"]}
    for measure in excerpt["measures"]:
        for staff in measure["staves"]:
            for voice in staff["voices"]:
                used.setdefault(staff["staff"], {0}).add(voice["voice"])
    return {s: sorted(v) for s, v in used.items()}


def abc_voice_slots(excerpt: dict) -> list[tuple[int, int]]:
    """(staff, voice) of ABC voices V:1, V:2, ... in the ABC made from this excerpt.

    xml2abc numbers voices part by part in order of appearance and skips voices without notes.
    """
    sounding = set()
    for measure in excerpt["measures"]:
        for staff in measure["staves"]:
            for voice in staff["voices"]:
                if any(e["type"] == "chord" and e.get("notes") for e in voice["events"]):
                    sounding.add((staff["staff"], voice["voice"]))
    used = voices_used(excerpt)
    return [(s, v) for part in excerpt["parts"] for s in part["staves"] for v in used.get(s, [0]) if (s, v) in sounding]


def _divisions(excerpt: dict) -> int:
    denominators = {1}
    for measure in excerpt["measures"]:
        denominators.add((measure_length(measure) * 4).denominator)
        for staff in measure["staves"]:
            for voice in staff["voices"]:
                for event in voice["events"]:
                    denominators.add((parse_fraction(event["duration"]) * 4).denominator)
    return math.lcm(*denominators)


def _note_specs(event: dict, excerpt: dict) -> list[dict]:
    """One event -> notated pieces (type, dots, tuplet ratio, sounding length); chords tie across pieces."""
    length = parse_fraction(event["duration"])
    if length <= 0:
        raise NotationError(f"event duration must be positive, got {event['duration']}")
    hint = event.get("tuplet")
    ratio = (hint["actual"], hint["normal"]) if hint else default_tuplet(length)
    notated = length * Fraction(ratio[0], ratio[1]) if ratio else length
    if not is_plain(notated):  # the hint does not fit this length: fall back to the inferred ratio
        ratio = default_tuplet(length)
        notated = length * Fraction(ratio[0], ratio[1]) if ratio else length
    if not is_plain(notated):
        raise NotationError(f"cannot notate a duration of {event['duration']}")
    whole = notated_value(notated)
    pieces = [notated] if whole else split_plain(notated)
    specs = []
    for i, piece in enumerate(pieces):
        kind, dots = notated_value(piece)
        spec = {"type": kind, "dots": dots, "ratio": ratio, "sounding": piece * Fraction(ratio[1], ratio[0]) if ratio else piece,
                "rest": event["type"] != "chord" or not event.get("notes"), "notes": []}
        for note in event.get("notes") or []:
            tie = note.get("tie")
            starts = tie in ("start", "continue") or i < len(pieces) - 1
            stops = tie in ("stop", "continue") or i > 0
            spec["notes"].append((note["pitch"], note["tpc"], starts, stops))
        specs.append(spec)
    return specs


def _mark_tuplets(specs: list[dict]) -> None:
    open_ratio, accumulated, start = None, Fraction(0), None
    for i, spec in enumerate(specs):
        ratio = spec["ratio"]
        if open_ratio is not None and ratio != open_ratio:
            specs[i - 1]["tuplet_stop"] = True
            open_ratio = None
        if ratio is None:
            continue
        if open_ratio is None:
            spec["tuplet_start"] = True
            open_ratio, accumulated = ratio, Fraction(0)
        accumulated += spec["sounding"]
        if is_plain(accumulated):
            spec["tuplet_stop"] = True
            open_ratio = None
    if open_ratio is not None:
        specs[-1]["tuplet_stop"] = True


_BEAMABLE = {"eighth", "16th", "32nd", "64th", "128th", "256th"}


def beat_length(time: str) -> Fraction:
    """The span one beam group covers: a dotted quarter in compound meters, else a quarter (3/8: the bar)."""
    beats, beat_type = time.split("/")
    beats, beat_type = sum(int(b) for b in beats.split("+")), int(beat_type)
    if beat_type == 8 and beats % 3 == 0:
        return Fraction(3, 8)
    return Fraction(1, 4) if beat_type <= 4 else Fraction(1, beat_type) * 2


def _mark_beams(specs: list[dict], beat: Fraction) -> None:
    """Beam consecutive notes shorter than a quarter that fall in the same beat (NotaGen's ABC has beams)."""
    onset = Fraction(0)
    group: list[dict] = []
    group_beat = None

    def close() -> None:
        if len(group) > 1:
            group[0]["beam"] = "begin"
            for spec in group[1:-1]:
                spec["beam"] = "continue"
            group[-1]["beam"] = "end"
        group.clear()

    for spec in specs:
        this_beat = onset // beat
        if spec["rest"] or spec["type"] not in _BEAMABLE or this_beat != group_beat:
            close()
            group_beat = this_beat
        if not spec["rest"] and spec["type"] in _BEAMABLE:
            group.append(spec)
        onset += spec["sounding"]
    close()


def _write_spec(measure_el: ET.Element, spec: dict, divisions: int, voice: int, staff: int | None) -> None:
    duration = spec["sounding"] * 4 * divisions
    if duration.denominator != 1:
        raise NotationError("internal: duration does not fit the divisions")
    entries = spec["notes"] or [None]
    for k, entry in enumerate(entries):
        note = _sub(measure_el, "note")
        if k > 0:
            _sub(note, "chord")
        if entry is None:
            _sub(note, "rest")
        else:
            pitch, tpc, starts, stops = entry
            step, alter = step_from_tpc(tpc)
            pitch_el = _sub(note, "pitch")
            _sub(pitch_el, "step", step)
            _sub(pitch_el, "alter", alter)
            _sub(pitch_el, "octave", octave_from_midi(pitch, step, alter))
        _sub(note, "duration", int(duration))
        if entry is not None:
            if stops:
                _sub(note, "tie", type="stop")
            if starts:
                _sub(note, "tie", type="start")
        _sub(note, "voice", voice)
        _sub(note, "type", spec["type"])
        for _ in range(spec["dots"]):
            _sub(note, "dot")
        if spec["ratio"]:
            modification = _sub(note, "time-modification")
            _sub(modification, "actual-notes", spec["ratio"][0])
            _sub(modification, "normal-notes", spec["ratio"][1])
        if staff is not None:
            _sub(note, "staff", staff)
        if spec.get("beam") and k == 0:
            _sub(note, "beam", spec["beam"], number="1")
        notations = None
        if entry is not None and (entry[2] or entry[3]):
            notations = _sub(note, "notations")
            if entry[3]:
                _sub(notations, "tied", type="stop")
            if entry[2]:
                _sub(notations, "tied", type="start")
        if k == 0 and (spec.get("tuplet_start") or spec.get("tuplet_stop")):
            notations = notations if notations is not None else _sub(note, "notations")
            if spec.get("tuplet_start"):
                _sub(notations, "tuplet", type="start")
            if spec.get("tuplet_stop"):
                _sub(notations, "tuplet", type="stop")


def excerpt_to_element(excerpt: dict) -> ET.Element:
    divisions = _divisions(excerpt)
    used = voices_used(excerpt)
    clefs = {s["index"]: s.get("clef", "treble") for s in excerpt["staves"]}
    root = ET.Element("score-partwise", version="3.1")
    if excerpt.get("title"):
        _sub(_sub(root, "work"), "work-title", excerpt["title"])
    part_list = _sub(root, "part-list")
    for part in excerpt["parts"]:
        sp = _sub(part_list, "score-part", id=part["id"])
        _sub(sp, "part-name", part.get("name", ""))
        if part.get("abbreviation"):
            _sub(sp, "part-abbreviation", part["abbreviation"])
        _sub(_sub(sp, "score-instrument", id=f"{part['id']}-I1"), "instrument-name", part.get("name", ""))
        midi = _sub(sp, "midi-instrument", id=f"{part['id']}-I1")
        _sub(midi, "midi-program", int(part.get("midi_program", 0)) + 1)
    for p, part in enumerate(excerpt["parts"]):
        part_el = _sub(root, "part", id=part["id"])
        staves = part["staves"]
        previous_time = previous_key = None
        for m, measure in enumerate(excerpt["measures"]):
            measure_el = _sub(part_el, "measure", number=str(measure.get("number", m + 1)))
            if measure.get("duration") and m == 0:
                measure_el.set("implicit", "yes")
            if m == 0 or measure["time"] != previous_time or measure["key"] != previous_key:
                attributes = _sub(measure_el, "attributes")
                if m == 0:
                    _sub(attributes, "divisions", divisions)
                if m == 0 or measure["key"] != previous_key:
                    _sub(_sub(attributes, "key"), "fifths", measure["key"])
                if m == 0 or measure["time"] != previous_time:
                    beats, beat_type = measure["time"].split("/")
                    time_el = _sub(attributes, "time")
                    _sub(time_el, "beats", beats)
                    _sub(time_el, "beat-type", beat_type)
                if m == 0:
                    if len(staves) > 1:
                        _sub(attributes, "staves", len(staves))
                    for k, staff in enumerate(staves):
                        sign, line, octave = _CLEF_SIGNS.get(clefs.get(staff, "treble"), ("G", 2, 0))
                        clef = _sub(attributes, "clef", number=str(k + 1)) if len(staves) > 1 else _sub(attributes, "clef")
                        _sub(clef, "sign", sign)
                        if sign != "percussion":
                            _sub(clef, "line", line)
                        if octave:
                            _sub(clef, "clef-octave-change", octave)
                previous_time, previous_key = measure["time"], measure["key"]
            if p == 0 and measure.get("tempo"):
                direction = _sub(measure_el, "direction", placement="above")
                metronome = _sub(_sub(direction, "direction-type"), "metronome")
                _sub(metronome, "beat-unit", "quarter")
                _sub(metronome, "per-minute", f"{float(measure['tempo']):g}")
                _sub(direction, "sound", tempo=f"{float(measure['tempo']):g}")
            length = measure_length(measure)
            slots = [(k, staff, v) for k, staff in enumerate(staves) for v in used.get(staff, [0])]
            for n, (k, staff, v) in enumerate(slots):
                entry = staff_entry(measure, staff)
                voice = next((x for x in (entry or {}).get("voices", []) if x["voice"] == v), None)
                events = voice["events"] if voice else [{"type": "rest", "duration": str(length)}]
                specs = [spec for event in events for spec in _note_specs(event, excerpt)]
                _mark_tuplets(specs)
                _mark_beams(specs, beat_length(measure["time"]))
                for spec in specs:
                    _write_spec(measure_el, spec, divisions, 4 * k + v + 1, k + 1 if len(staves) > 1 else None)
                written = sum((s["sounding"] for s in specs), Fraction(0))
                if n < len(slots) - 1 and written:
                    _sub(_sub(measure_el, "backup"), "duration", int(written * 4 * divisions))
    return root


def excerpt_to_musicxml(excerpt: dict) -> bytes:
    """Excerpt JSON v1 -> MusicXML bytes (partwise 3.1)."""
    root = excerpt_to_element(excerpt)
    body = ET.tostring(root, encoding="unicode")
    header = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 '
              'Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd">\n')
    return (header + body).encode("utf-8")
