"""Excerpt JSON -> MusicXML (partwise), written directly as text (several times faster than ElementTree).

Pitches are written as concert pitch with an explicit <alter> (0 included) and no <accidental>,
so that xml2abc derives the accidentals from the spelling alone. Every voice used anywhere in
the excerpt is written in every measure (as a rest where absent), which makes xml2abc number
the ABC voices in (part, staff, voice) order: see `abc_voice_slots`.
"""
from __future__ import annotations

import functools
import math
from xml.sax.saxutils import escape, quoteattr
from fractions import Fraction

from notabridge.cancel import checkpoint

from .durations import default_tuplet, is_plain, notated_value, parse_fraction, split_plain
from .errors import NotationError
from .excerpt_base import measure_length, staff_entry, time_parts
from .marks import barlines_xml, direction_xml, marks_xml
from .musicxml_read import transpose_shift
from .spelling import octave_from_midi, step_from_tpc

_CLEF_SIGNS = {"treble": ("G", 2, 0), "treble8vb": ("G", 2, -1), "treble8va": ("G", 2, 1), "bass": ("F", 4, 0),
               "bass8vb": ("F", 4, -1), "baritone": ("F", 3, 0), "alto": ("C", 3, 0), "tenor": ("C", 4, 0),
               "soprano": ("C", 1, 0), "mezzo-soprano": ("C", 2, 0), "baritone-c": ("C", 5, 0),
               "french": ("G", 1, 0), "percussion": ("percussion", 0, 0), "tab": ("TAB", 5, 0)}


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
    return [slot for part in excerpt["parts"] for slot in part_slots(part, used) if slot in sounding]


def part_slots(part: dict, used: dict[int, list[int]]) -> list[tuple[int, int]]:
    """A part's (staff, voice) pairs in the order the MusicXML is written (its `voice_order`, v2,
    then staff and voice order), which is the order xml2abc numbers the ABC voices in."""
    default = [(s, v) for s in part["staves"] for v in used.get(s, [0])]
    ordered = [tuple(pair) for pair in part.get("voice_order", []) if tuple(pair) in default]
    return list(dict.fromkeys(ordered + default))


@functools.lru_cache(maxsize=1024)
def _quarter_denominator(duration: str) -> int:
    return (parse_fraction(duration) * 4).denominator


@functools.lru_cache(maxsize=4096)
def _ticks(length: Fraction, divisions: int) -> int:
    """A length in whole notes -> MusicXML duration units."""
    ticks = length * 4 * divisions
    if ticks.denominator != 1:
        raise NotationError("internal: duration does not fit the divisions")
    return ticks.numerator


def _divisions(excerpt: dict) -> int:
    denominators = {1}
    for measure in excerpt["measures"]:
        denominators.add((measure_length(measure) * 4).denominator)
        for staff in measure["staves"]:
            for voice in staff["voices"]:
                for event in voice["events"]:
                    denominators.add(_quarter_denominator(event["duration"]))
    return math.lcm(*denominators)


@functools.lru_cache(maxsize=1024)
def _shapes(duration: str, hint: tuple[int, int] | None) -> tuple[tuple[str, int, tuple[int, int] | None, Fraction], ...]:
    """A duration (and tuplet hint) -> the notated pieces (type, dots, ratio, sounding length)."""
    length = parse_fraction(duration)
    if length <= 0:
        raise NotationError(f"event duration must be positive, got {duration}")
    ratio = hint or default_tuplet(length)
    notated = length * Fraction(ratio[0], ratio[1]) if ratio else length
    if not is_plain(notated):  # the hint does not fit this length: fall back to the inferred ratio
        ratio = default_tuplet(length)
        notated = length * Fraction(ratio[0], ratio[1]) if ratio else length
    if not is_plain(notated):
        raise NotationError(f"cannot notate a duration of {duration}")
    pieces = [notated] if notated_value(notated) else split_plain(notated)
    return tuple((*notated_value(piece), ratio, piece * Fraction(ratio[1], ratio[0]) if ratio else piece) for piece in pieces)


def _note_specs(event: dict) -> list[dict]:
    """One event -> notated pieces (type, dots, tuplet ratio, sounding length); chords tie across pieces."""
    hint = event.get("tuplet")
    shapes = _shapes(event["duration"], (hint["actual"], hint["normal"]) if hint else None)
    rest = event["type"] != "chord" or not event.get("notes")
    last = len(shapes) - 1
    specs = []
    for i, (kind, dots, ratio, sounding) in enumerate(shapes):
        notes = []
        for note in event.get("notes") or []:
            tie = note.get("tie")
            notes.append((note["pitch"], note["tpc"], tie in ("start", "continue") or i < last, tie in ("stop", "continue") or i > 0))
        specs.append({"type": kind, "dots": dots, "ratio": ratio, "sounding": sounding, "rest": rest, "notes": notes})
    if event.get("beam"):
        specs[0]["beam_hint"] = event["beam"]
    if event.get("marks"):
        specs[0]["marks"] = event["marks"]
    if event.get("grace"):
        specs[0]["grace"] = event["grace"]
    for kind, spec in (("start", specs[0]), ("stop", specs[-1])):
        if hint and hint.get(kind):
            spec["bracket"] = spec.get("bracket", ()) + (kind,)
    if event.get("slurs", {}).get("start"):
        specs[0]["slur_start"] = event["slurs"]["start"]
    if event.get("slurs", {}).get("stop"):
        specs[-1]["slur_stop"] = event["slurs"]["stop"]
    if rest and event.get("invisible"):
        for spec in specs:
            spec["invisible"] = True
    return specs


def _mark_tuplets(specs: list[dict]) -> None:
    """Tuplet brackets: the events' own (excerpt v2) when the voice has them; else a group starts
    at the first note with a ratio and closes once its notes add up to a plain (power-of-two)
    length, or when the ratio changes."""
    if any(spec.get("bracket") for spec in specs):
        for spec in specs:
            for kind in spec.get("bracket", ()):
                spec[f"tuplet_{kind}"] = True
        return
    open_ratio, accumulated = None, Fraction(0)
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
    beats, beat_type = time_parts(time)
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


def _write_grace(out: list[str], group: dict, voice: int, staff: int | None, shift: tuple[int, int]) -> None:
    """A grace note (or grace chord) before its main note; graces take no time."""
    slash = ' slash="yes"' if group.get("slash") else ""
    kind = group.get("type", "eighth")
    for k, note in enumerate(group["notes"]):
        pitch, tpc = note["pitch"] - shift[1], note["tpc"] - shift[0]
        step, alter = step_from_tpc(tpc)
        out.append(f"<note><grace{slash}/>" + ("<chord/>" if k else "")
                   + f"<pitch><step>{step}</step><alter>{alter}</alter><octave>{octave_from_midi(pitch, step, alter)}</octave>"
                   f"</pitch><voice>{voice}</voice><type>{kind}</type>" + (f"<staff>{staff}</staff>" if staff else "") + "</note>")


def _slur_xml(spec: dict, open_slurs: list[int], taken: set[int]) -> str:
    """<slur> elements of a note: stops close the voice's latest open slurs, starts take numbers
    no other open slur has (xml2abc matches slurs by number across voices and parts)."""
    out = ""
    for _ in range(spec.get("slur_stop", 0)):
        if open_slurs:
            number = open_slurs.pop()
            taken.discard(number)
            out += f'<slur type="stop" number="{number}"/>'
    for _ in range(spec.get("slur_start", 0)):
        number = next((n for n in range(1, 17) if n not in taken), None)
        if number is None:
            break
        open_slurs.append(number)
        taken.add(number)
        out += f'<slur type="start" number="{number}"/>'
    return out


def _write_spec(out: list[str], spec: dict, divisions: int, voice: int, staff: int | None,
                shift: tuple[int, int] = (0, 0), open_slurs: list[int] | None = None,
                taken: set[int] | None = None) -> None:
    """Append the <note> elements of one notated piece (string building: this is the hot path)."""
    duration = _ticks(spec["sounding"], divisions)
    tail = f"<voice>{voice}</voice><type>{spec['type']}</type>" + "<dot/>" * spec["dots"]
    if spec["ratio"]:
        tail += (f"<time-modification><actual-notes>{spec['ratio'][0]}</actual-notes>"
                 f"<normal-notes>{spec['ratio'][1]}</normal-notes></time-modification>")
    if staff is not None:
        tail += f"<staff>{staff}</staff>"
    tuplet = ('<tuplet type="start"/>' if spec.get("tuplet_start") else "") + ('<tuplet type="stop"/>' if spec.get("tuplet_stop") else "")
    for group in spec.get("grace", []):
        _write_grace(out, group, voice, staff, shift)
    marks = marks_xml(spec["marks"]) if spec.get("marks") else ""
    if (spec.get("slur_start") or spec.get("slur_stop")) and open_slurs is not None:
        marks = _slur_xml(spec, open_slurs, taken if taken is not None else set()) + marks
    for k, entry in enumerate(spec["notes"] or [None]):
        out.append("<note><chord/>" if k else ('<note print-object="no">' if spec.get("invisible") else "<note>"))
        tied = ""
        if entry is None:
            out.append(f"<rest/><duration>{duration}</duration>")
        else:
            pitch, tpc, starts, stops = entry
            pitch, tpc = pitch - shift[1], tpc - shift[0]  # written pitch of a transposing part
            step, alter = step_from_tpc(tpc)
            out.append(f"<pitch><step>{step}</step><alter>{alter}</alter><octave>{octave_from_midi(pitch, step, alter)}</octave></pitch>"
                       f"<duration>{duration}</duration>")
            if stops:
                out.append('<tie type="stop"/>')
                tied += '<tied type="stop"/>'
            if starts:
                out.append('<tie type="start"/>')
                tied += '<tied type="start"/>'
        out.append(tail)
        if k == 0 and spec.get("beam"):
            out.append(f'<beam number="1">{spec["beam"]}</beam>')
        notations = tied + (tuplet + marks if k == 0 else "")
        out.append(f"<notations>{notations}</notations></note>" if notations else "</note>")


def part_key(measure: dict, part_id: str) -> tuple[int, str | None]:
    """(fifths, mode) in force for a part: its own (`part_keys`, v2) or the measure's."""
    own = measure.get("part_keys", {}).get(part_id)
    if own:
        return own["key"], own.get("mode")
    return measure["key"], measure.get("mode")


def _attributes(measure: dict, m: int, previous: tuple, divisions: int, staves: list[int], clefs: dict,
                transpose: dict | None = None, part_id: str = "") -> str:
    parts = []
    if m == 0:
        parts.append(f"<divisions>{divisions}</divisions>")
    key = part_key(measure, part_id)
    if m == 0 or key != previous[1]:
        mode = f"<mode>{key[1]}</mode>" if key[1] else ""
        parts.append(f"<key><fifths>{key[0] - transpose_shift(transpose)[0]}</fifths>{mode}</key>")
    if m == 0 or measure["time"] != previous[0]:
        beats, beat_type = measure["time"].split("/")
        parts.append(f"<time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time>")
    if m == 0:
        if len(staves) > 1:
            parts.append(f"<staves>{len(staves)}</staves>")
        for k, staff in enumerate(staves):
            parts.append(_clef_xml(clefs.get(staff, "treble"), k + 1 if len(staves) > 1 else None))
        if transpose:
            parts.append(f"<transpose><diatonic>{transpose.get('diatonic', 0)}</diatonic><chromatic>{transpose.get('chromatic', 0)}"
                         f"</chromatic>" + (f"<octave-change>{transpose['octave_change']}</octave-change>"
                                            if transpose.get("octave_change") else "") + "</transpose>")
    return "<attributes>" + "".join(parts) + "</attributes>" if parts else ""


def _clef_xml(clef: str, number: int | None) -> str:
    sign, line, octave = _CLEF_SIGNS.get(clef, ("G", 2, 0))
    attribute = f' number="{number}"' if number is not None else ""
    return (f"<clef{attribute}><sign>{sign}</sign>" + (f"<line>{line}</line>" if sign != "percussion" else "")
            + (f"<clef-octave-change>{octave}</clef-octave-change>" if octave else "") + "</clef>")


def _timed_xml(item: dict, staff: int | None) -> str:
    """A direction, chord symbol or clef change placed in a voice's notes at its time."""
    if "clef" in item:
        return f"<attributes>{_clef_xml(item['clef'], staff)}</attributes>"
    return direction_xml(item, staff)


def _group_start(number: int, group: dict) -> str:
    inner = f"<group-symbol>{group['symbol']}</group-symbol>" if group.get("symbol", "none") != "none" else ""
    for key, tag in (("name", "group-name"), ("abbreviation", "group-abbreviation")):
        if group.get(key):
            inner = f"<{tag}>{escape(group[key])}</{tag}>" + inner if key == "name" else inner + f"<{tag}>{escape(group[key])}</{tag}>"
    inner += f"<group-barline>{'yes' if group.get('barline') else 'no'}</group-barline>"
    return f'<part-group number="{number}" type="start">{inner}</part-group>'


def excerpt_to_musicxml(excerpt: dict) -> bytes:
    """Excerpt JSON -> MusicXML bytes (partwise 3.1)."""
    divisions = _divisions(excerpt)
    used = voices_used(excerpt)
    written_beams = excerpt.get("beaming") == "written"
    taken_slurs: set[int] = set()  # slur numbers open anywhere in the document
    clefs = {s["index"]: s.get("clef", "treble") for s in excerpt["staves"]}
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 '
           'Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd">\n<score-partwise version="3.1">']
    if excerpt.get("title"):
        out.append(f"<work><work-title>{escape(excerpt['title'])}</work-title></work>")
    out.append("<part-list>")
    groups = list(enumerate(excerpt.get("groups", []), start=1))
    for part in excerpt["parts"]:
        for number, group in groups:
            if group["first"] == part["id"]:
                out.append(_group_start(number, group))
        pid = quoteattr(part["id"])
        iid = quoteattr(f"{part['id']}-I1")
        name = escape(part.get("name", ""))
        out.append(f"<score-part id={pid}><part-name>{name}</part-name>")
        if part.get("abbreviation"):
            out.append(f"<part-abbreviation>{escape(part['abbreviation'])}</part-abbreviation>")
        out.append(f"<score-instrument id={iid}><instrument-name>{name}</instrument-name></score-instrument>"
                   f"<midi-instrument id={iid}><midi-program>{int(part.get('midi_program', 0)) + 1}</midi-program>"
                   "</midi-instrument></score-part>")
        for number, group in reversed(groups):
            if group["last"] == part["id"]:
                out.append(f'<part-group number="{number}" type="stop"/>')
    out.append("</part-list>")
    for p, part in enumerate(excerpt["parts"]):
        out.append(f"<part id={quoteattr(part['id'])}>")
        staves = part["staves"]
        previous = (None, None)
        volta = None
        shift = transpose_shift(part.get("transpose"))
        slurs: dict[tuple[int, int], list[int]] = {}  # open slur numbers per voice
        for m, measure in enumerate(excerpt["measures"]):
            checkpoint()
            implicit = ' implicit="yes"' if measure.get("duration") and m == 0 else ""
            out.append(f'<measure number="{measure.get("number", m + 1)}"{implicit}>')
            out.append(_attributes(measure, m, previous, divisions, staves, clefs, part.get("transpose"), part["id"]))
            left_barline, right_barline = barlines_xml(measure, volta)
            volta = measure.get("volta", volta)
            out.append(left_barline)
            previous = (measure["time"], part_key(measure, part["id"]))
            if p == 0 and measure.get("tempo"):
                bpm = f"{float(measure['tempo']):g}"
                out.append(f'<direction placement="above"><direction-type><metronome><beat-unit>quarter</beat-unit>'
                           f'<per-minute>{bpm}</per-minute></metronome></direction-type><sound tempo="{bpm}"/></direction>')
            length = measure_length(measure)
            slots = [(staves.index(staff), staff, v) for staff, v in part_slots(part, used)]
            beat = beat_length(measure["time"])
            for n, (k, staff, v) in enumerate(slots):
                entry = staff_entry(measure, staff)
                voice = next((x for x in (entry or {}).get("voices", []) if x["voice"] == v), None)
                events = voice["events"] if voice else [{"type": "rest", "duration": str(length)}]
                specs = [spec for event in events for spec in _note_specs(event)]
                _mark_tuplets(specs)
                if written_beams:  # the score's own beaming (excerpt v2)
                    for spec in specs:
                        if spec.get("beam_hint"):
                            spec["beam"] = spec["beam_hint"]
                else:
                    _mark_beams(specs, beat)
                mine = [d for d in measure.get("directions", []) if (d["staff"], d["voice"]) == (staff, v)]
                if (staff, v) == next(slot for slot in part_slots(part, used) if slot[0] == staff):
                    # clef changes on the staff's first voice, before directions at the same time
                    mine = [c for c in measure.get("clefs", []) if c["staff"] == staff] + mine
                mine.sort(key=lambda d: parse_fraction(d["at"]) if d["at"] != "0" else Fraction(0))
                onset = Fraction(0)
                for spec in specs:  # a direction goes just before the note at its time (xml2abc's voice and time)
                    while mine and (Fraction(0) if mine[0]["at"] == "0" else parse_fraction(mine[0]["at"])) <= onset:
                        out.append(_timed_xml(mine.pop(0), k + 1 if len(staves) > 1 else None))
                    _write_spec(out, spec, divisions, 4 * k + v + 1, k + 1 if len(staves) > 1 else None, shift,
                                slurs.setdefault((staff, v), []), taken_slurs)
                    onset += spec["sounding"]
                for direction in mine:
                    out.append(_timed_xml(direction, k + 1 if len(staves) > 1 else None))
                written = sum((s["sounding"] for s in specs), Fraction(0))
                if n < len(slots) - 1 and written:
                    out.append(f"<backup><duration>{int(written * 4 * divisions)}</duration></backup>")
            out.append(right_barline + "</measure>")
        out.append("</part>")
    out.append("</score-partwise>\n")
    return "".join(out).encode("utf-8")
