"""Put new measures into the user's own MusicXML file and leave everything else as it was.

`continue`: the new measures go in before measure index `at` in every part; later measures keep
their content (integer measure numbers move on by the number of new measures, and a final
barline at the end of the score moves to the new last measure). `infill`: the notes of the
written staves in measures start..end-1 are replaced; everything else in those measures stays
(dynamics, text, chord symbols and other directions keep their time in the measure).

The new measures are written by musicxml_write (from the excerpt the engine's text was read
into), then fitted to the file: written pitch for transposing parts, the file's <divisions>,
no key, time or clef unless the new bars change them. Comments, processing instructions and
the document's prolog (XML declaration, DOCTYPE) are kept.
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .errors import NotationError
from .excerpt_base import copy_excerpt, measure_length, rest_event
from .keys import excerpt_mode
from .musicxml_read import _fifths_shift
from .musicxml_write import excerpt_to_musicxml
from .sources import musicxml_bytes
from .spelling import midi_from_spelling, octave_from_midi, step_from_tpc, tpc_from_step

_TIMED = ("note", "backup", "forward")


@dataclass
class _State:
    """What is in force at a point of a part: divisions, transposition, written key, time."""
    divisions: int = 1
    fifths_shift: int = 0
    chromatic: int = 0
    key: tuple[int, str | None] | None = None
    time: tuple[str, str] | None = None


def _parse(xml: bytes) -> tuple[bytes, ET.Element]:
    """(prolog bytes before the root element, root) with comments and processing instructions kept."""
    match = re.search(rb"<score-(partwise|timewise)[\s>]", xml)
    if match is None:
        raise NotationError("not a partwise MusicXML score")
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    try:
        parser.feed(xml)
        root = parser.close()
    except ET.ParseError as exc:
        raise NotationError(f"malformed MusicXML: {exc}") from exc
    if root.tag != "score-partwise":
        raise NotationError("timewise MusicXML cannot take new measures; export the score as partwise MusicXML")
    return xml[:match.start()], root


def _serialize(prolog: bytes, root: ET.Element) -> bytes:
    body = ET.tostring(root, encoding="unicode").encode("utf-8")
    if b"encoding=" in prolog[:100] and b"utf-8" not in prolog[:100].lower():
        prolog = re.sub(rb"encoding=[\"'][^\"']*[\"']", b'encoding="UTF-8"', prolog, count=1)
    return prolog + body + (b"\n" if not body.endswith(b"\n") else b"")


def _state_before(part: ET.Element, index: int) -> _State:
    state = _State()
    for measure in part.findall("measure")[:index]:
        for attributes in measure.findall("attributes"):
            if attributes.findtext("divisions"):
                state.divisions = int(float(attributes.findtext("divisions")))
            transpose = attributes.find("transpose")
            if transpose is not None:
                chromatic = int(transpose.findtext("chromatic") or 0) + 12 * int(transpose.findtext("octave-change") or 0)
                state.chromatic = chromatic
                state.fifths_shift = _fifths_shift(int(transpose.findtext("diatonic") or 0),
                                                   chromatic % 12 if chromatic >= 0 else -((-chromatic) % 12))
            if attributes.find("key/fifths") is not None:
                state.key = (int(attributes.findtext("key/fifths")), excerpt_mode(attributes.findtext("key/mode")))
            if attributes.find("time/beats") is not None:
                state.time = (attributes.findtext("time/beats"), attributes.findtext("time/beat-type"))
    return state


def _to_written(note: ET.Element, state: _State) -> None:
    """A concert-pitch <pitch> -> the written pitch of a transposing part."""
    pitch = note.find("pitch")
    if pitch is None or not state.chromatic and not state.fifths_shift:
        return
    step, alter = pitch.findtext("step"), int(pitch.findtext("alter") or 0)
    midi = midi_from_spelling(step, alter, int(pitch.findtext("octave"))) - state.chromatic
    new_step, new_alter = step_from_tpc(tpc_from_step(step, alter) - state.fifths_shift)
    pitch.find("step").text = new_step
    pitch.find("alter").text = str(new_alter)
    pitch.find("octave").text = str(octave_from_midi(midi, new_step, new_alter))


def _fit(measures: list[ET.Element], state: _State, divisions: int) -> int:
    """Fit generated measures of one part to the file; returns the divisions they now use."""
    durations = [int(e.findtext("duration")) for m in measures for e in m.iter() if e.tag in _TIMED
                 and e.find("duration") is not None]
    # the coarsest divisions this part's new notes need, then the file's own when they fit in it
    needed = math.lcm(1, *(divisions // math.gcd(d, divisions) for d in durations))
    target = math.lcm(state.divisions, needed)
    for measure in measures:
        measure.attrib.pop("implicit", None)
        for element in measure.iter():
            if element.tag in _TIMED and element.find("duration") is not None:
                element.find("duration").text = str(int(element.findtext("duration")) * target // divisions)
            if element.tag == "note":
                _to_written(element, state)
        for attributes in measure.findall("attributes"):
            for child in list(attributes):
                if child.tag in ("divisions", "staves", "clef"):
                    attributes.remove(child)
                elif child.tag == "key":
                    fifths = int(child.findtext("fifths")) - state.fifths_shift
                    key = (fifths, excerpt_mode(child.findtext("mode")))
                    if key == state.key:
                        attributes.remove(child)
                    else:
                        child.find("fifths").text = str(fifths)
                        state.key = key
                elif child.tag == "time":
                    time = (child.findtext("beats"), child.findtext("beat-type"))
                    if time == state.time:
                        attributes.remove(child)
                    else:
                        state.time = time
            if len(attributes) == 0:
                measure.remove(attributes)
        for direction in measure.findall("direction"):
            if direction.find("direction-type/metronome") is not None:
                measure.remove(direction)  # the tempo in force is the file's own
    if target != state.divisions and measures:
        _set_divisions(measures[0], target)
    return target


def _set_divisions(measure: ET.Element, divisions: int) -> None:
    attributes = measure.find("attributes")
    if attributes is None:
        attributes = ET.Element("attributes")
        measure.insert(0, attributes)
    element = attributes.find("divisions")
    if element is None:
        element = ET.Element("divisions")
        attributes.insert(0, element)
    element.text = str(divisions)


def _declares_divisions(measure: ET.Element) -> bool:
    return any(a.find("divisions") is not None for a in measure.findall("attributes"))


def _generated(template: dict, measures: list[dict]) -> tuple[list[list[ET.Element]], int]:
    """The new measures as MusicXML, per part of the template, and their <divisions>."""
    mini = copy_excerpt({k: v for k, v in template.items() if k not in ("measures", "selection")})
    for part in mini["parts"]:
        part.pop("transpose", None)  # written concert; _fit gives transposing parts their written pitch
    mini["measures"] = [{k: v for k, v in m.items() if k != "tempo"} for m in copy_excerpt({"m": measures})["m"]]
    for measure in mini["measures"]:  # staves the new bars leave out rest
        present = {s["staff"] for s in measure["staves"]}
        measure["staves"] += [{"staff": s["index"], "voices": [{"voice": 0, "events": [rest_event(measure_length(measure))]}]}
                              for s in mini["staves"] if s["index"] not in present]
        measure["staves"].sort(key=lambda s: s["staff"])
    root = ET.fromstring(excerpt_to_musicxml(mini))
    divisions = int(root.findtext("part/measure/attributes/divisions") or 1)
    return [part.findall("measure") for part in root.findall("part")], divisions


def _number(measure: ET.Element) -> tuple[int, str] | None:
    """A measure's printed number and what follows it ("7a", the second half of a split bar: (7, "a"))."""
    m = re.match(r"\s*(-?\d+)(.*)$", measure.get("number", ""), flags=re.S)
    return (int(m[1]), m[2]) if m else None


def splice_continue(source, template: dict, new_measures: list[dict], at: int) -> bytes:
    """The file with `new_measures` (excerpt measures read against `template`, the excerpt of
    the same file) inserted before measure index `at` of every part."""
    prolog, root = _parse(musicxml_bytes(source))
    parts = root.findall("part")
    if len(parts) != len(template["parts"]):
        raise NotationError("the excerpt does not match the score's parts")
    generated, divisions = _generated(template, new_measures)
    count = len(new_measures)
    for part, new in zip(parts, generated):
        measures = part.findall("measure")
        if not 0 <= at <= len(measures):
            raise NotationError(f"cannot insert at measure index {at}: the score has {len(measures)} measures")
        state = _state_before(part, at)
        used = _fit(new, state, divisions)
        previous = _number(measures[at - 1]) if at > 0 else None
        for k, measure in enumerate(new):
            measure.set("number", str((previous[0] if previous else at) + 1 + k))
        position = list(part).index(measures[at]) if at < len(measures) else len(part)
        for k, measure in enumerate(new):
            part.insert(position + k, measure)
        for later in measures[at:]:
            if number := _number(later):
                later.set("number", f"{number[0] + count}{number[1]}")
        if at < len(measures) and used != state.divisions and not _declares_divisions(measures[at]):
            _set_divisions(measures[at], state.divisions)
        if at == len(measures) and at > 0:
            _move_final_barline(measures[at - 1], new[-1])
    return _serialize(prolog, root)


def _move_final_barline(old_last: ET.Element, new_last: ET.Element) -> None:
    for barline in old_last.findall("barline"):
        if barline.get("location", "right") == "right" and barline.findtext("bar-style") == "light-heavy" \
                and barline.find("repeat") is None:
            old_last.remove(barline)
            new_last.append(barline)


@dataclass
class _Timed:
    onset: int                 # in the measure's divisions
    element: ET.Element
    staff: int
    voice: str


def _timeline(measure: ET.Element) -> tuple[list[_Timed], list[_Timed]]:
    """(notes, other elements) of a measure with their onsets; backup/forward are dropped."""
    notes, others = [], []
    cursor = last_onset = 0
    for element in measure:
        if element.tag == "note":
            if element.find("chord") is None:
                last_onset = cursor
                cursor += _length(element)
            notes.append(_Timed(last_onset, element, int(element.findtext("staff") or 1), (element.findtext("voice") or "1").strip()))
        elif element.tag == "backup":
            cursor -= int(element.findtext("duration") or 0)
        elif element.tag == "forward":
            cursor += int(element.findtext("duration") or 0)
        else:
            others.append(_Timed(cursor, element, int(element.findtext("staff") or 1), (element.findtext("voice") or "1").strip()))
    return notes, others


def _length(note: ET.Element) -> int:
    """How far a note moves the time on (chord members, grace and cue notes do not)."""
    if note.find("chord") is not None or note.find("grace") is not None or note.find("cue") is not None:
        return 0
    return int(note.findtext("duration") or 0)


def _scale_measure(measure: ET.Element, factor: int) -> None:
    """All durations and offsets of a measure in divisions `factor` times finer."""
    for element in measure.iter():
        if element.tag in ("duration", "offset") and element.text and element.text.strip().lstrip("-").isdigit():
            element.text = str(int(element.text) * factor)


def _move(out: list[ET.Element], cursor: int, onset: int) -> int:
    if onset > cursor:
        step = ET.Element("forward")
        ET.SubElement(step, "duration").text = str(onset - cursor)
        out.append(step)
    elif onset < cursor:
        step = ET.Element("backup")
        ET.SubElement(step, "duration").text = str(cursor - onset)
        out.append(step)
    return onset


def _rewrite(measure: ET.Element, generated: ET.Element, written: set[int]) -> None:
    """The measure's notes on `written` staves replaced by the generated measure's; the rest of
    its notes and all its other elements kept at their times (elements go with their staff's
    voices where they can, so that readers attach them to the same staff)."""
    old_notes, others = _timeline(measure)
    new_notes, _ = _timeline(generated)
    streams: dict[tuple[int, str], list[_Timed]] = {}
    for item in [n for n in old_notes if n.staff not in written] + [n for n in new_notes if n.staff in written]:
        streams.setdefault((item.staff, item.voice if item.staff not in written else "new" + item.voice), []).append(item)
    front = []  # what comes before the first note at the start of the measure (attributes, print, left barline, ...)
    for element in measure:
        if element.tag in _TIMED:
            break
        front.append(element)
    pending = [o for o in others if o.element not in front]
    right = [o for o in pending if o.element.tag == "barline" and o.element.get("location", "right") == "right"]
    pending = [o for o in pending if o not in right]
    out, cursor = list(front), 0
    for (staff, _), items in sorted(streams.items(), key=lambda kv: (kv[0][0], kv[1][0].onset)):
        for item in items:
            if item.element.find("chord") is None:
                for other in [o for o in pending if o.staff == staff and o.onset <= item.onset]:
                    cursor = _move(out, cursor, other.onset)
                    out.append(other.element)
                    pending.remove(other)
                cursor = _move(out, cursor, item.onset)
            out.append(item.element)
            cursor += _length(item.element)
    for other in pending:
        cursor = _move(out, cursor, other.onset)
        out.append(other.element)
    for element in list(measure):
        measure.remove(element)
    for element in out + [r.element for r in right]:
        measure.append(element)


def splice_infill(source, template: dict, new_measures: list[dict], staves: list[int] | None = None) -> bytes:
    """The file with the notes of `staves` (all staves by default) in the measures of
    `new_measures` (by index) replaced by theirs; everything else stays."""
    prolog, root = _parse(musicxml_bytes(source))
    parts = root.findall("part")
    if len(parts) != len(template["parts"]):
        raise NotationError("the excerpt does not match the score's parts")
    if not new_measures:
        return _serialize(prolog, root)
    write = set(staves if staves is not None else [s["index"] for s in template["staves"]])
    generated, divisions = _generated(template, new_measures)
    for part, info, new in zip(parts, template["parts"], generated):
        local = {k + 1 for k, staff in enumerate(info["staves"]) if staff in write}
        if not local:
            continue
        measures = part.findall("measure")
        for measure_excerpt, new_measure in zip(new_measures, new):
            index = measure_excerpt["index"]
            if not 0 <= index < len(measures):
                raise NotationError(f"measure index {index} is not in the score")
            state = _state_before(part, index + 1)  # what the measure itself sets is in force in it
            used = _fit_divisions([new_measure], state, divisions)
            if used != state.divisions:  # finer note values than the file's: this measure gets its own divisions
                _scale_measure(measures[index], used // state.divisions)
                _set_divisions(measures[index], used)
                if index + 1 < len(measures) and not _declares_divisions(measures[index + 1]):
                    _set_divisions(measures[index + 1], state.divisions)
            _rewrite(measures[index], new_measure, local)
    return _serialize(prolog, root)


def _fit_divisions(measures: list[ET.Element], state: _State, divisions: int) -> int:
    """Fit generated measures to the file (as _fit) without adding key, time or divisions."""
    used = _fit(measures, state, divisions)
    for measure in measures:
        for attributes in measure.findall("attributes"):
            measure.remove(attributes)
    return used
