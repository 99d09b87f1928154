"""Score -> NotaGen interleaved ABC, on real corpus files and small hand-made scores."""
from __future__ import annotations

import pytest
from music21 import corpus

from notabridge.notation import NotationError, to_abc
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


# The fast ABC reader must read exactly what abc2xml reads. Real xml2abc output of corpus files
# (decorations, dynamics, slurs, broken rhythms, clef octaves, tuplets) and NotaGen-style lines.
CROSS_CHECK_WORKS = ["bach/bwv1.6", "bach/bwv66.6", "monteverdi/madrigal.3.1", "joplin/maple_leaf_rag",
                     "schumann_clara/polonaise_op1n2", "mozart/k545/movement1_exposition", "corelli/opus3no1/1grave"]


def _same_reading(abc: str) -> None:
    from notabridge.notation import abc_to_excerpt
    from notabridge.notation.compare import excerpt_differences

    fast = abc_to_excerpt(abc, reader="fast")
    reference = abc_to_excerpt(abc, reader="abc2xml")
    assert excerpt_differences(reference, fast) == []
    meta = lambda e: [(m["time"], m["key"], m.get("duration"), m.get("tempo")) for m in e["measures"]]  # noqa: E731
    assert meta(fast) == meta(reference)
    assert [s["clef"] for s in fast["staves"]] == [s["clef"] for s in reference["staves"]]


@pytest.mark.parametrize("work", CROSS_CHECK_WORKS)
def test_fast_reader_agrees_with_abc2xml_on_corpus_abc(work):
    path = corpus.getWork(work)
    path = path[0] if isinstance(path, list) else path
    _same_reading(to_abc(path))


NOTAGEN_STYLE = """%Classical
%Mozart, Wolfgang Amadeus
%Keyboard
%%score { ( 1 2 ) | 3 }
L:1/8
Q:1/4=120
M:3/4
K:Bb
V:1 treble nm="Piano" snm="Pno."
V:2 treble
V:3 bass
[r:0/4][V:1]!p! (d>c B2) {c}B/A/G/F/|[V:2]x2 [DF]2- [DF]2|[V:3]B,,2 [D,F,]2 [D,F,]2|
[r:1/3][V:1](3ded (3:2:3c_dc =B2|[V:3]E,2 G,2 =B,,2|
[r:2/2][V:1][K:G][M:2/4] ^c<d e/f/g/a/|[V:2]x4|[V:3]"^cresc."D,4-|
[r:3/1]
[r:4/0][V:1]!fermata!g4|][V:3]D,4|]
"""


def test_fast_reader_agrees_with_abc2xml_on_notagen_style_text():
    _same_reading(NOTAGEN_STYLE)


def test_notagen_style_text_reads_as_written():
    from notabridge.notation import abc_to_excerpt

    excerpt = abc_to_excerpt(NOTAGEN_STYLE)
    bars = excerpt["measures"]
    assert [m["time"] for m in bars] == ["3/4", "3/4", "2/4", "2/4", "2/4"]
    assert [m["key"] for m in bars] == [-2, -2, 1, 1, 1]
    right = bars[0]["staves"][0]["voices"][0]["events"]
    assert [e["duration"] for e in right][:3] == ["3/16", "1/16", "1/4"]  # d>c B2
    grace = right[3]["grace"]  # {c}B/: excerpt v2 keeps grace notes
    assert [n["pitch"] for g in grace for n in g["notes"]] == [72] and not grace[0].get("slash")
    triplets = bars[1]["staves"][0]["voices"][0]["events"][:3]
    assert [e["duration"] for e in triplets] == ["1/12"] * 3
    left = bars[2]["staves"][1]["voices"][0]["events"][0]["notes"][0]
    assert (left["pitch"], left["tie"]) == (50, "start")
    assert bars[3]["staves"][1]["voices"][0]["events"][0]["type"] == "rest"  # the empty line: every voice rests
    assert bars[0]["tempo"] == 120
