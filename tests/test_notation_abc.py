"""Score -> NotaGen interleaved ABC, on real corpus files and small hand-made scores."""
from __future__ import annotations

import pytest
from music21 import corpus

from bridge.notation import NotationError, to_abc
from tests.notation_helpers import WHOLE_REST, two_part_xml, whole


def test_bach_chorale_becomes_one_line_per_bar_with_prompt():
    path = corpus.getWork("bach/bwv66.6")
    abc = to_abc(path, prompt=("Baroque", "Bach, Johann Sebastian", "Choral"))
    lines = abc.splitlines()
    assert lines[:3] == ["%Baroque", "%Bach, Johann Sebastian", "%Choral"]
    assert not any(line.startswith(("X:", "T:", "C:", "Z:", "W:", "w:", "%%MIDI")) for line in lines)
    assert "L:1/8" in lines
    body = [line for line in lines if line.startswith("[V:")]
    score = corpus.parse("bach/bwv66.6")
    assert len(body) == len(score.parts[0].getElementsByClass("Measure"))
    assert all(line.count("[V:") == 4 for line in body)  # no rest-only bars in this chorale
    assert not any("%" in line for line in body)  # bar-number comments removed


def test_music21_score_and_file_give_the_same_abc():
    path = corpus.getWork("bach/bwv66.6")
    assert to_abc(corpus.parse("bach/bwv66.6")) == to_abc(path)


def test_rest_only_bars_are_dropped_from_the_line():
    xml = two_part_xml([whole("C", 5), whole("D", 5)], [whole("C", 4), WHOLE_REST])
    body = [l for l in to_abc(xml).splitlines() if l.startswith("[V:")]
    assert body[0].count("[V:") == 2
    assert body[1].startswith("[V:1]") and "[V:2]" not in body[1]
    full = [l for l in to_abc(xml, reduce_rests=False).splitlines() if l.startswith("[V:")]
    assert "[V:2]z8" in full[1]


def test_unequal_bar_counts_are_refused():
    xml = two_part_xml([whole("C", 5), whole("D", 5)], [whole("C", 4)])
    with pytest.raises(NotationError, match="unequal bar counts"):
        to_abc(xml)


def test_malformed_xml_is_a_notation_error():
    with pytest.raises(NotationError):
        to_abc("<score-partwise><part id='P1'><measure")
