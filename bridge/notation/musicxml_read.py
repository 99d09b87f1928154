"""MusicXML (partwise) -> excerpt JSON, read directly with ElementTree.

A direct reader because it is an order of magnitude faster than a full music21 parse, which
matters for the round trip of every generated bar. Voices follow xml2abc's conventions (each
MusicXML voice belongs to the staff holding most of its notes) so that ABC made from a score
and read back lands on the same staves and voices.
"""
from __future__ import annotations

import re

import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from fractions import Fraction
from typing import Any

from .durations import TYPE_VALUES, fraction_text
from .errors import NotationError
from .excerpt_base import add_warning, new_excerpt, rest_event, time_length
from .keys import excerpt_mode
from .marks import GROUP_SYMBOLS, MARKS, direction_items, harmony_text, measure_barlines, note_marks
from .sources import musicxml_bytes
from .spelling import midi_from_spelling, tpc_from_step

_CLEFS = {("G", 2, 0): "treble", ("G", 2, -1): "treble8vb", ("G", 2, 1): "treble8va", ("F", 4, 0): "bass",
          ("F", 4, -1): "bass8vb", ("F", 3, 0): "baritone", ("C", 3, 0): "alto", ("C", 4, 0): "tenor",
          ("C", 1, 0): "soprano", ("C", 2, 0): "mezzo-soprano", ("C", 5, 0): "baritone-c",
          ("G", 1, 0): "french", ("percussion", 0, 0): "percussion", ("TAB", 5, 0): "tab"}


def clef_name(clef: ET.Element) -> str:
    sign = (clef.findtext("sign") or "G").strip()
    line = int(clef.findtext("line") or {"G": 2, "F": 4, "C": 3}.get(sign, 0))
    octave = int(clef.findtext("clef-octave-change") or 0)
    return _CLEFS.get((sign, line if sign not in ("percussion",) else 0, octave), "treble")


def _fifths_shift(diatonic: int | None, chromatic: int) -> int:
    """Line-of-fifths shift of a transposition interval (needed to respell transposed notes);
    without a diatonic step (abc2xml writes none) the simplest spelling of the semitones."""
    candidates = [f for f in range(-21, 22) if (7 * f - chromatic) % 12 == 0
                  and (diatonic is None or (4 * f - diatonic) % 7 == 0)]
    return min(candidates, key=abs) if candidates else 0


def _diatonic_steps(shift: tuple[int, int]) -> int:
    """The diatonic steps of a transposition given as (fifths shift, semitones): the number of
    steps a fifths shift gives (4 per fifth, mod 7) nearest to the semitones' size."""
    fifths, semitones = shift
    base = (4 * fifths) % 7
    target = semitones * 7 / 12
    return min((base + 7 * k for k in range(-4, 5)), key=lambda d: abs(d - target))


def transpose_shift(transpose: dict | None) -> tuple[int, int]:
    """A part's `transpose` (v2: MusicXML's diatonic, chromatic, octave_change, written -> sounding)
    -> (line-of-fifths shift, semitones) to add to written notes to get concert pitch."""
    if not transpose:
        return 0, 0
    chromatic = transpose.get("chromatic", 0) + 12 * transpose.get("octave_change", 0)
    return _fifths_shift(transpose.get("diatonic"), chromatic % 12 if chromatic >= 0 else -((-chromatic) % 12)), chromatic


def _root(source: Any) -> ET.Element:
    if isinstance(source, ET.Element):
        return source
    if isinstance(source, ET.ElementTree):
        return source.getroot()
    data = musicxml_bytes(source)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise NotationError(f"malformed MusicXML: {exc}") from exc


def _int(text: str | None, what: str, default: int | None = None) -> int:
    if text is None or not text.strip():
        if default is None:
            raise NotationError(f"MusicXML: missing {what}")
        return default
    try:
        return int(float(text))
    except ValueError as exc:
        raise NotationError(f"MusicXML: {what} is not a number: {text!r}") from exc


class _PartState:
    def __init__(self) -> None:
        self.divisions = 1
        self.transpose = (0, 0)  # (fifths shift, semitones) written -> sounding
        self.slurs: list[tuple[int, str, str, dict]] = []  # (measure, slur type+number, voice, event) in file order
        self.wedges: dict[str, tuple[int, int]] = {}  # open hairpin number -> (staff, voice) of its start
        self.key: tuple[int, str | None] | None = None  # this part's key in force (concert), with its mode
        self.key_measure = -1  # the measure where this part's key was last set


def _read_direction(direction: ET.Element, following: list[ET.Element], position: Fraction, layout: tuple,
                    state: _PartState, out: list[dict]) -> None:
    """Dynamics, hairpins and text of a <direction>, on the voice xml2abc puts them in: the voice
    of the next note before a <backup> (else the staff's first voice); a hairpin's end goes where
    its start went."""
    items = [{"chord": harmony_text(direction)}] if direction.tag == "harmony" else direction_items(direction)
    if not items:
        return
    first, voice_staff, voice_index = layout
    xml_voice = None
    for element in following:
        if element.tag == "backup":
            break
        if element.tag == "note":
            xml_voice = (element.findtext("voice") or "1").strip()
            break
    if xml_voice is None or xml_voice not in voice_staff:
        staff_number = _int(direction.findtext("staff"), "staff", 1)
        xml_voice = next((v for v, s in voice_staff.items() if s == staff_number), None)
        if xml_voice is None:
            return
    slot = (first + voice_staff[xml_voice] - 1, voice_index[xml_voice])
    for item in items:
        where = slot
        if "wedge" in item:
            number = item.pop("_number")
            if item["wedge"] == "stop":
                where = state.wedges.pop(number, slot)
            else:
                state.wedges[number] = slot
        out.append({"staff": where[0], "voice": where[1], "at": fraction_text(position) if position else "0", **item})


def _read_grace(note: ET.Element, state: "_PartState", excerpt: dict, groups: list[dict]) -> None:
    """A grace note: a new group before the voice's next note, or (with <chord/>) one more note
    of the last group. NotaGen's text writes grace notes without lengths: `{ba^g}`, `{/c}`."""
    pitch = _note_pitch(note, state, excerpt)
    if pitch is None:
        return
    pitch = {"pitch": pitch["pitch"], "tpc": pitch["tpc"]}
    if note.find("chord") is not None and groups:
        groups[-1]["notes"].append(pitch)
        return
    group = {"notes": [pitch], "type": (note.findtext("type") or "eighth").strip()}
    if note.find("grace").get("slash") == "yes":
        group["slash"] = True
    groups.append(group)


def _match_slurs(states: list[_PartState]) -> None:
    """xml2abc's slur matching, part after part with one buffer: a slur counts when its start and
    stop, found by number, are in the same voice with the start first (it writes `(` before the
    start, `)` after the stop)."""
    buffer: dict[str, tuple[str, str, dict]] = {}
    for state in states:
        for _, (kind, number), voice, event in sorted(state.slurs, key=lambda item: item[0]):
            if number not in buffer or buffer[number][0] == kind:
                buffer[number] = (kind, voice, event)
                continue
            first_kind, first_voice, first_event = buffer.pop(number)
            if first_voice == voice and first_kind == "start" and first_event is not None and event is not None:
                slurs = first_event.setdefault("slurs", {})
                slurs["start"] = slurs.get("start", 0) + 1
                slurs = event.setdefault("slurs", {})
                slurs["stop"] = slurs.get("stop", 0) + 1


def _note_slurs(note: ET.Element, state: _PartState, measure: int, voice: str, event: dict | None) -> None:
    for slur in note.findall("notations/slur"):
        if slur.get("type") in ("start", "stop"):
            state.slurs.append((measure, (slur.get("type"), slur.get("number") or "1"), voice, event))


def _part_list(root: ET.Element) -> list[dict]:
    parts = []
    for sp in root.findall("part-list/score-part"):
        program = sp.findtext("midi-instrument/midi-program")
        parts.append({"id": sp.get("id"), "name": (sp.findtext("part-name") or "").strip(),
                      "abbreviation": (sp.findtext("part-abbreviation") or "").strip(),
                      "midi_program": max(0, min(127, _int(program, "midi-program") - 1)) if program else 0})
    return parts


def _part_groups(root: ET.Element) -> list[dict]:
    """<part-group> brackets and braces over parts, outermost first: {first, last, symbol, barline, name}."""
    open_groups: dict[str, dict] = {}
    groups: list[dict] = []
    last_part = None
    for element in root.findall("part-list/*"):
        if element.tag == "score-part":
            last_part = element.get("id")
            for group in open_groups.values():
                group.setdefault("first", last_part)
        elif element.tag == "part-group":
            number = element.get("number", "1")
            if element.get("type") == "start":
                symbol = (element.findtext("group-symbol") or "none").strip()
                group = {"symbol": symbol if symbol in GROUP_SYMBOLS else "none",
                         "barline": (element.findtext("group-barline") or "no").strip() == "yes"}
                for key, tag in (("name", "group-name"), ("abbreviation", "group-abbreviation")):
                    if (element.findtext(tag) or "").strip():
                        group[key] = element.findtext(tag).strip()
                open_groups[number] = group
                groups.append(group)
            elif element.get("type") == "stop" and number in open_groups:
                open_groups.pop(number)["last"] = last_part
    for group in open_groups.values():
        group["last"] = last_part
    return [g for g in groups if g.get("first") and g.get("last")]


def _voice_staves(part: ET.Element) -> tuple[int, dict[str, int]]:
    """(number of staves, xml voice -> staff number by majority of its notes), as xml2abc decides."""
    staves = 1
    for element in part.iter("staves"):
        staves = max(staves, _int(element.text, "staves", 1))
    counts: dict[str, Counter] = defaultdict(Counter)
    for note in part.iter("note"):
        staff = _int(note.findtext("staff"), "staff", 1)
        staves = max(staves, staff)
        counts[(note.findtext("voice") or "1").strip()][staff] += 1
    # the staff with most notes; on a tie the higher staff, as xml2abc decides
    return staves, {v: max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] for v, c in counts.items()}


def printed_number(number_text: str, index: int) -> int:
    """A measure's printed number: the whole number its `number` attribute starts with ("4a", the second
    half of a bar split at a repeat, is bar 4), else index + 1."""
    found = re.match(r"\s*(-?\d+)", number_text)
    return int(found[1]) if found else index + 1


def measure_numbers(source: Any) -> list[int]:
    """Printed numbers of the first part's measures, in order (what --measures A-B refers to)."""
    root = _root(source)
    part = root.find("part")
    if part is None:
        raise NotationError("the MusicXML score has no parts")
    return [printed_number(m.get("number", ""), i) for i, m in enumerate(part.findall("measure"))]


def excerpt_from_musicxml(source: Any) -> dict:
    """A .musicxml/.xml/.mxl path, MusicXML text/bytes or an ElementTree element -> excerpt JSON."""
    root = _root(source)
    if root.tag == "score-timewise":
        raise NotationError("timewise MusicXML is not supported; export the score as partwise MusicXML")
    if root.tag != "score-partwise":
        raise NotationError(f"not a MusicXML score (root element <{root.tag}>)")
    excerpt = new_excerpt((root.findtext("work/work-title") or root.findtext("movement-title") or "").strip())
    excerpt["beaming"] = "written"
    declared = {p["id"]: p for p in _part_list(root)}
    groups = _part_groups(root)
    if groups:
        excerpt["groups"] = groups
    parts = root.findall("part")
    if not parts:
        raise NotationError("the MusicXML score has no parts")
    measure_lists = [p.findall("measure") for p in parts]
    # the excerpt carries notes only; say so when text that matters to a user is in the score
    if root.find("part/measure/note/lyric") is not None:
        add_warning(excerpt, "lyrics were left out")
    if len({len(m) for m in measure_lists}) > 1:
        raise NotationError("the parts of this MusicXML score have different numbers of measures")

    # parts and staves
    layout = []  # per part: (first global staff, voice -> local staff, voice -> voice index)
    for part in parts:
        info = dict(declared.get(part.get("id"), {"id": part.get("id"), "name": "", "abbreviation": "", "midi_program": 0}))
        n_staves, voice_staff = _voice_staves(part)
        first = len(excerpt["staves"])
        info["staves"] = list(range(first, first + n_staves))
        excerpt["parts"].append(info)
        for k in range(n_staves):
            excerpt["staves"].append({"index": first + k, "part": info["id"], "clef": "treble"})
        per_staff: dict[int, list[str]] = defaultdict(list)
        for voice in sorted(voice_staff, key=lambda v: (_int(v, "voice", 1) if v.isdigit() else 99, v)):
            per_staff[voice_staff[voice]].append(voice)
        voice_index = {v: per_staff[voice_staff[v]].index(v) for v in voice_staff}
        layout.append((first, voice_staff, voice_index))
        # xml2abc numbers a part's voices in the order they first appear in the file
        order = [[first + voice_staff[v] - 1, voice_index[v]] for v in voice_staff]
        if order != sorted(order):
            info["voice_order"] = order

    states = [_PartState() for _ in parts]
    time, key, mode = "4/4", 0, None
    clefs_seen: set[int] = set()
    for m in range(len(measure_lists[0])):
        events: dict[tuple[int, int], list] = defaultdict(list)
        tempo = None
        new_time = new_key = new_mode = None
        key_part = None
        directions: list[dict] = []
        clef_changes: list[dict] = []
        graces_left: list = []
        longest = Fraction(0)
        number_text = measure_lists[0][m].get("number", "")
        for p, part in enumerate(parts):
            state = states[p]
            first, voice_staff, voice_index = layout[p]
            position = Fraction(0)  # in whole notes
            last_chord_event = None
            elements = list(measure_lists[p][m])
            graces: dict[tuple[int, int], list[dict]] = {}  # grace notes waiting for their main note
            for element_index, element in enumerate(elements):
                tag = element.tag
                if tag == "attributes":
                    state.divisions = _int(element.findtext("divisions"), "divisions", state.divisions)
                    if state.divisions <= 0:
                        raise NotationError("MusicXML: divisions must be positive")
                    transpose = element.find("transpose")
                    if transpose is not None:
                        diatonic = transpose.findtext("diatonic")
                        written = {"diatonic": None if diatonic is None else _int(diatonic, "diatonic", 0),
                                   "chromatic": _int(transpose.findtext("chromatic"), "chromatic", 0),
                                   "octave_change": _int(transpose.findtext("octave-change"), "octave-change", 0)}
                        state.transpose = transpose_shift(written)
                        if any(written.values()):
                            if written["diatonic"] is None:  # as abc2xml writes it: the simplest spelling
                                written["diatonic"] = _diatonic_steps(state.transpose)
                            excerpt["parts"][p].setdefault("transpose", written)
                    fifths = element.findtext("key/fifths")
                    # the key at the measure's start: the last one before its first note (abc2xml
                    # writes a transposing part's concert key, then its written key)
                    if fifths is not None and (new_key is None or (p == key_part and position == 0)):
                        key_part = p
                        new_key = max(-7, min(7, _int(fifths, "fifths") + state.transpose[0]))
                        new_mode = excerpt_mode(element.findtext("key/mode"))
                    if fifths is not None and (position == 0 or state.key_measure != m):
                        state.key = (max(-7, min(7, _int(fifths, "fifths") + state.transpose[0])),
                                     excerpt_mode(element.findtext("key/mode")))
                        state.key_measure = m
                    time_el = element.find("time")
                    if time_el is not None and new_time is None:
                        if time_el.find("senza-misura") is not None:
                            add_warning(excerpt, "unmetered (senza misura) measures are given the length of their notes")
                        else:
                            beats, beat_type = time_el.findtext("beats"), time_el.findtext("beat-type")
                            if beats and beat_type:
                                new_time = f"{beats.strip()}/{beat_type.strip()}"
                    for clef in element.findall("clef"):
                        staff = first + _int(clef.get("number"), "clef number", 1) - 1
                        if staff >= len(excerpt["staves"]):
                            continue
                        if m == 0 and position == 0 or staff not in clefs_seen:  # the staff's clef (ABC header)
                            excerpt["staves"][staff]["clef"] = clef_name(clef)
                            clefs_seen.add(staff)
                        else:  # a clef change inside the score (xml2abc: [K:bass] in every voice of the staff)
                            clef_changes.append({"staff": staff, "at": fraction_text(position) if position else "0",
                                                 "clef": clef_name(clef)})
                elif tag == "note":
                    voice = (element.findtext("voice") or "1").strip()
                    staff = first + voice_staff.get(voice, 1) - 1
                    slot = (staff, voice_index.get(voice, 0))
                    if element.find("grace") is not None:
                        _read_grace(element, state, excerpt, graces.setdefault(slot, []))
                        _note_slurs(element, state, m, voice, None)  # matched (to keep numbers paired), never written
                        continue
                    duration = _int(element.findtext("duration"), "note duration", 0)
                    pitch = _note_pitch(element, state, excerpt)
                    if element.find("chord") is not None and last_chord_event is not None:
                        if pitch is not None:
                            if last_chord_event["type"] == "rest":
                                last_chord_event.update(type="chord", notes=[])
                            last_chord_event["notes"].append(pitch)
                        _add_marks(last_chord_event, note_marks(element))
                        _note_slurs(element, state, m, voice, last_chord_event)
                        continue
                    length = _snap_to_notation(element, Fraction(duration, state.divisions * 4), state.divisions)
                    event = {"type": "chord" if pitch is not None else "rest", "duration": fraction_text(length)}
                    if pitch is not None:
                        event["notes"] = [pitch]
                    _display_hints(element, event, length)
                    _add_marks(event, note_marks(element))
                    if graces.get(slot):
                        event["grace"] = graces.pop(slot)
                    if pitch is None and element.find("rest") is not None and element.get("print-object") == "no":
                        event["invisible"] = True
                    _note_slurs(element, state, m, voice, event)
                    onset = position
                    if length > 0:
                        events[slot].append((onset, length, event))
                        last_chord_event = event
                    position += length
                    longest = max(longest, position)
                elif tag in ("backup", "forward"):
                    step = Fraction(_int(element.findtext("duration"), f"{tag} duration", 0), state.divisions * 4)
                    position = max(Fraction(0), position - step if tag == "backup" else position + step)
                    # back on the divisions grid: snapped tuplet lengths leave tiny remainders
                    grid = state.divisions * 4
                    position = Fraction(round(position * grid), grid)
                    longest = max(longest, position)
                elif tag == "harmony":
                    _read_direction(element, elements[element_index + 1:], position, layout[p], state, directions)
                elif tag in ("direction", "sound"):
                    if tag == "direction":
                        _read_direction(element, elements[element_index + 1:], position, layout[p], state, directions)
                    sound = element if tag == "sound" else element.find("sound")
                    if sound is not None and sound.get("tempo") and tempo is None:
                        try:
                            tempo = round(float(sound.get("tempo")), 2)
                        except ValueError:
                            pass
            graces_left.extend(g for g in graces.values() if g)
        time = new_time or time
        if new_key is not None:
            key, mode = new_key, new_mode
        if states[0].key is not None:  # the first part's key is the score's; other parts may differ
            key, mode = states[0].key
        length = longest if longest > 0 else time_length(time)
        if abs(length - time_length(time)) * states[0].divisions * 4 < 1:
            length = time_length(time)
        measure = {"index": m, "number": printed_number(number_text, m),
                   "time": time, "key": key}
        if mode:
            measure["mode"] = mode
        part_keys = {excerpt["parts"][p]["id"]: dict({"key": st.key[0]}, **({"mode": st.key[1]} if st.key[1] else {}))
                     for p, st in enumerate(states) if st.key is not None and st.key != (key, mode)}
        if part_keys:  # parts with a signature of their own (Renaissance voices with one flat more)
            measure["part_keys"] = part_keys
        measure.update(measure_barlines(measure_lists[0][m]))
        if length != time_length(time):
            measure["duration"] = fraction_text(length)
        if tempo is not None:
            measure["tempo"] = tempo
        if any(graces_left):
            add_warning(excerpt, "grace notes after the last note of a measure were left out")
        measure["staves"] = _measure_staves(excerpt, events, length)
        if directions:
            measure["directions"] = directions
        if clef_changes:
            measure["clefs"] = clef_changes
        excerpt["measures"].append(measure)
    _match_slurs(states)
    repair_ties(excerpt)
    return excerpt


def repair_ties(excerpt: dict) -> None:
    """Drop tie marks with no matching note on the other side (same pitch, next event of the voice).

    Such ties (common in encoded corpora) would become ties between different pitches in ABC.
    """
    streams: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for measure in excerpt["measures"]:
        for staff in measure["staves"]:
            for voice in staff["voices"]:
                streams[(staff["staff"], voice["voice"])].extend(voice["events"])
    repaired = False
    for events in streams.values():
        starting: list[set[int]] = []  # per event: pitches whose tie really goes on to the next event
        for i, event in enumerate(events):
            following = events[i + 1] if i + 1 < len(events) else None
            # a tie needs the same pitch *and spelling* on the other side: ABC (like most
            # notation) cannot tie Eb to D#
            next_pitches = {(n["pitch"], n["tpc"]) for n in following["notes"]} if following and following["type"] == "chord" else set()
            starting.append({(n["pitch"], n["tpc"]) for n in event.get("notes") or []
                             if n.get("tie") in ("start", "continue") and (n["pitch"], n["tpc"]) in next_pitches}
                            if event["type"] == "chord" else set())
        for i, event in enumerate(events):
            if event["type"] != "chord":
                continue
            for note in event["notes"]:
                starts = (note["pitch"], note["tpc"]) in starting[i]
                stops = i > 0 and (note["pitch"], note["tpc"]) in starting[i - 1]
                fixed = "continue" if starts and stops else "start" if starts else "stop" if stops else None
                if fixed != note.get("tie"):
                    note["tie"] = fixed
                    repaired = True
    if repaired:
        add_warning(excerpt, "ties without a matching note of the same pitch and spelling were removed")


def _note_pitch(note: ET.Element, state: _PartState, excerpt: dict) -> dict | None:
    """The note's {pitch, tpc, tie} at concert pitch, or None for a rest (percussion becomes a rest)."""
    if note.find("rest") is not None:
        return None
    if note.find("unpitched") is not None:
        add_warning(excerpt, "percussion (unpitched) notes were written as rests")
        return None
    step = (note.findtext("pitch/step") or "").strip().upper()
    if step not in "CDEFGAB" or not step:
        raise NotationError("MusicXML: a note has no valid pitch step")
    alter_text = note.findtext("pitch/alter")
    alter_f = float(alter_text) if alter_text else 0.0
    if alter_f != int(alter_f):
        add_warning(excerpt, "microtonal alterations were rounded to the nearest semitone")
    alter = int(round(alter_f))
    octave = _int(note.findtext("pitch/octave"), "octave")
    fifths, semitones = state.transpose
    pitch = midi_from_spelling(step, alter, octave) + semitones
    tpc = tpc_from_step(step, alter) + fifths
    if not (0 <= pitch <= 127) or not (-1 <= tpc <= 33):
        raise NotationError(f"MusicXML: pitch {step}{alter:+d} octave {octave} is out of range")
    ties = {t.get("type") for t in note.findall("tie")} | {t.get("type") for t in note.findall("notations/tied")}
    tie = "continue" if {"start", "stop"} <= ties else ("start" if "start" in ties else ("stop" if "stop" in ties else None))
    return {"pitch": pitch, "tpc": tpc, "tie": tie}


def _snap_to_notation(note: ET.Element, length: Fraction, divisions: int) -> Fraction:
    """The exact length the note's <type>, dots and <time-modification> say, when <duration>
    is that length rounded to whole divisions (some encoders round tuplet notes that way)."""
    kind = (note.findtext("type") or "").strip()
    actual, normal = note.findtext("time-modification/actual-notes"), note.findtext("time-modification/normal-notes")
    if kind not in TYPE_VALUES or not (actual and normal):
        return length  # only tuplet notes: elsewhere a rounded note is made up for by its neighbours
    dots = len(note.findall("dot"))
    nominal = TYPE_VALUES[kind] * (2 - Fraction(1, 2 ** dots))
    if int(actual) > 0:
        nominal = nominal * int(normal) / int(actual)
    if nominal != length and abs(nominal - length) * divisions * 4 < 1:
        return nominal
    return length


def _add_marks(event: dict, marks: list[str]) -> None:
    if marks:
        known = event.get("marks", []) + [m for m in marks if m not in event.get("marks", [])]
        event["marks"] = [m for m in MARKS if m in known]


def _display_hints(note: ET.Element, event: dict, length: Fraction) -> None:
    beam = next((b.text for b in note.findall("beam") if b.get("number", "1") == "1"), None)
    if beam in ("begin", "continue", "end"):
        event["beam"] = beam
    dots = len(note.findall("dot"))
    if dots:
        event["dots"] = min(dots, 2)
    actual, normal = note.findtext("time-modification/actual-notes"), note.findtext("time-modification/normal-notes")
    if actual and normal and int(actual) != int(normal):
        event["tuplet"] = {"actual": int(actual), "normal": int(normal)}
        brackets = {t.get("type") for t in note.findall("notations/tuplet")}
        for kind in ("start", "stop"):  # the score's own tuplet groups (xml2abc writes (3:2:12 for one of 12)
            if kind in brackets:
                event["tuplet"][kind] = True


def _tuplet_groups(events: list[dict]) -> None:
    """Mark where each tuplet group starts and stops as xml2abc groups them: from a tuplet note
    to the note with a <tuplet type="stop">, or to the last one before a note outside tuplets
    (so twelve triplet eighths without brackets are one group, `(3:2:12`)."""
    open_at = None
    for i, event in enumerate(events):
        tuplet = event.get("tuplet")
        if tuplet is None:
            if open_at is not None:
                events[i - 1]["tuplet"]["stop"] = True
                open_at = None
            continue
        if open_at is None:
            tuplet["start"] = True
            open_at = i
        if tuplet.get("stop"):
            open_at = None
    if open_at is not None:
        events[-1]["tuplet"]["stop"] = True


def _measure_staves(excerpt: dict, events: dict, length: Fraction) -> list[dict]:
    """Voices as consecutive events from the measure start: gaps become rests, the end is filled."""
    staves = []
    for staff in range(len(excerpt["staves"])):
        voices = []
        indices = sorted({v for (s, v) in events if s == staff} | {0})
        for v in indices:
            out: list[dict] = []
            cursor = Fraction(0)
            for onset, dur, event in sorted(events.get((staff, v), []), key=lambda x: x[0]):
                if onset < cursor:
                    prev = out[-1] if out else None
                    if (prev and onset == cursor - Fraction(prev["duration"]) and prev["duration"] == event["duration"]
                            and prev["type"] == event["type"] == "chord"):
                        prev["notes"].extend(event["notes"])  # unison voices written as separate notes
                    else:
                        add_warning(excerpt, "overlapping notes within one voice were left out")
                    continue
                if onset > cursor:
                    out.append(dict(rest_event(onset - cursor), invisible=True))
                out.append(event)
                cursor = onset + dur
            if cursor < length:
                out.append(dict(rest_event(length - cursor), invisible=True))
            elif cursor > length:
                add_warning(excerpt, "a voice is longer than its measure")
            _tuplet_groups(out)
            voices.append({"voice": v, "events": out})
        staves.append({"staff": staff, "voices": voices})
    return staves
