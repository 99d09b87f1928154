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
