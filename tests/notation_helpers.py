"""Small scores built in code for the notation tests (real music21 objects, nothing mocked)."""
from __future__ import annotations


def two_part_xml(measures_1: list[str], measures_2: list[str]) -> str:
    """A minimal MusicXML score with two parts; each measure is given as its <note> elements."""
    def part(pid: str, measures: list[str]) -> str:
        body = []
        for i, notes in enumerate(measures, start=1):
            attributes = ("<attributes><divisions>1</divisions><key><fifths>0</fifths></key>"
                          "<time><beats>4</beats><beat-type>4</beat-type></time>"
                          "<clef><sign>G</sign><line>2</line></clef></attributes>") if i == 1 else ""
            body.append(f'<measure number="{i}">{attributes}{notes}</measure>')
        return f'<part id="{pid}">{"".join(body)}</part>'

    return ('<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1"><part-list>'
            '<score-part id="P1"><part-name>Upper</part-name></score-part>'
            '<score-part id="P2"><part-name>Lower</part-name></score-part></part-list>'
            + part("P1", measures_1) + part("P2", measures_2) + "</score-partwise>")


def whole(step: str, octave: int) -> str:
    return f"<note><pitch><step>{step}</step><octave>{octave}</octave></pitch><duration>4</duration><type>whole</type></note>"


WHOLE_REST = "<note><rest/><duration>4</duration><type>whole</type></note>"


def chord(duration: str, *notes: tuple[int, int], tie: str | None = None, **hints) -> dict:
    return {"type": "chord", "duration": duration, "notes": [{"pitch": p, "tpc": t, "tie": tie} for p, t in notes], **hints}


def rest(duration: str) -> dict:
    return {"type": "rest", "duration": duration}


def piano_excerpt() -> dict:
    """A hand-written excerpt exercising what the format must carry: a pickup, a key change and a
    meter change, a two-staff piano part with two voices on the upper staff, a tie across a
    barline, triplets, dotted notes, chords, enharmonic spellings (E# / F, B# / C), a flute part
    with a bar of rest."""
    return {
        "format": "notabridge-excerpt", "version": 1, "title": "test piece",
        "parts": [{"id": "P1", "name": "Flute", "abbreviation": "Fl.", "staves": [0], "midi_program": 73},
                  {"id": "P2", "name": "Piano", "abbreviation": "Pno.", "staves": [1, 2], "midi_program": 0}],
        "staves": [{"index": 0, "part": "P1", "clef": "treble"}, {"index": 1, "part": "P2", "clef": "treble"},
                   {"index": 2, "part": "P2", "clef": "bass"}],
        "measures": [
            {"index": 0, "number": 0, "time": "3/4", "key": 2, "duration": "1/4", "tempo": 80, "staves": [
                {"staff": 0, "voices": [{"voice": 0, "events": [chord("1/8", (74, 16)), chord("1/8", (76, 18))]}]},
                {"staff": 1, "voices": [{"voice": 0, "events": [rest("1/4")]}]},
                {"staff": 2, "voices": [{"voice": 0, "events": [chord("1/4", (50, 16))]}]}]},
            {"index": 1, "number": 1, "time": "3/4", "key": 2, "staves": [
                {"staff": 0, "voices": [{"voice": 0, "events": [
                    chord("3/8", (78, 20), dots=1), chord("1/8", (77, 25)), chord("1/4", (79, 15), tie="start")]}]},
                {"staff": 1, "voices": [
                    {"voice": 0, "events": [chord("1/2", (74, 16), (78, 20), dots=1), chord("1/4", (73, 21), (76, 18))]},
                    {"voice": 1, "events": [chord("1/4", (66, 20)), chord("1/4", (67, 15)), chord("1/4", (69, 17))]}]},
                {"staff": 2, "voices": [{"voice": 0, "events": [
                    chord("1/12", (50, 16), tuplet={"actual": 3, "normal": 2}), chord("1/12", (54, 20), tuplet={"actual": 3, "normal": 2}),
                    chord("1/12", (57, 17), tuplet={"actual": 3, "normal": 2}), chord("1/4", (45, 17)), chord("1/4", (38, 16))]}]}]},
            {"index": 2, "number": 2, "time": "4/4", "key": -3, "staves": [
                {"staff": 0, "voices": [{"voice": 0, "events": [chord("1/4", (79, 15), tie="stop"), rest("1/4"), chord("1/2", (72, 26))]}]},
                {"staff": 1, "voices": [{"voice": 0, "events": [chord("1/1", (63, 11), (67, 15), (70, 12))]}]},
                {"staff": 2, "voices": [{"voice": 0, "events": [chord("1/6", (48, 14), tuplet={"actual": 3, "normal": 2}),
                                                                chord("1/6", (51, 11), tuplet={"actual": 3, "normal": 2}),
                                                                chord("1/6", (55, 15), tuplet={"actual": 3, "normal": 2}),
                                                                chord("1/2", (36, 14))]}]}]},
            {"index": 3, "number": 3, "time": "4/4", "key": -3, "staves": [
                {"staff": 0, "voices": [{"voice": 0, "events": [rest("1/1")]}]},
                {"staff": 1, "voices": [{"voice": 0, "events": [chord("1/4", (65, 13)), chord("3/16", (67, 15), dots=1),
                                                                chord("1/16", (68, 10)), chord("1/2", (67, 15))]}]},
                {"staff": 2, "voices": [{"voice": 0, "events": [chord("1/1", (43, 15))]}]}]},
        ],
        "warnings": [],
    }
