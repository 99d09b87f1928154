"""`.abc --plain` (standard ABC a common reader takes) and Humdrum / MEI input, on real files."""
from __future__ import annotations

from pathlib import Path

import music21
import pytest
from music21 import converter, corpus

from notabridge.cli.main import main
from notabridge.notation import read_excerpt
from tests.notagen_reference import reference_text
from tests.test_notation_chain import assert_notagen_text

MEI_FILE = Path(music21.__file__).parent / "mei" / "test" / "test_file.mei"


def _pitches(part) -> list[str]:
    return [p.nameWithOctave for n in part.recurse().notes for p in n.pitches]


@pytest.mark.parametrize("work", ["bach/bwv66.6", "mozart/k80/movement1"])
def test_plain_abc_is_read_by_music21_with_every_voice_and_bar(work, tmp_path):
    out = tmp_path / "plain.abc"
    assert main(["convert", str(corpus.getWork(work)), str(out), "--plain"]) == 0
    text = out.read_text()
    assert text.startswith("X:1\n") and "[V:" not in text
    ours, original = converter.parse(str(out)), corpus.parse(work)
    assert len(ours.parts) == len(original.parts)
    bars = len(original.parts[0].getElementsByClass("Measure"))
    for mine, theirs in zip(ours.parts, original.parts):
        assert len(mine.getElementsByClass("Measure")) == bars
        assert len(_pitches(mine)) == len(_pitches(theirs))
        if work == "bach/bwv66.6":  # (music21's ABC reader forgets an accidental after a slur mark in k80)
            assert _pitches(mine) == _pitches(theirs)


def test_plain_abc_writes_invisible_rests_as_rests_music21_reads():
    from notabridge.notation.abc_plain import plain_abc

    interleaved = 'L:1/8\nM:4/4\nK:C\nV:1 treble\nV:2 bass\n[V:1]"^x2"c2 x2 !fermata!c4|[V:2]C,8|\n'
    plain = plain_abc(interleaved)
    assert 'c2 z2 !fermata!c4|' in plain and '"^x2"' in plain  # the text annotation is left alone
    first = converter.parse(plain, format="abc").parts[0]
    assert [p.nameWithOctave for n in first.recurse().notes for p in n.pitches] == ["C5", "C5"]
    assert len(first.recurse().getElementsByClass("Rest")) == 1


def test_plain_abc_from_an_excerpt_file(tmp_path):
    src = tmp_path / "chorale.json"
    assert main(["convert", str(corpus.getWork("bach/bwv66.6")), str(src)]) == 0
    out = tmp_path / "plain.abc"
    assert main(["convert", str(src), str(out), "--plain"]) == 0
    assert len(converter.parse(str(out)).parts) == 4


def test_plain_is_only_for_abc(tmp_path, capsys):
    assert main(["convert", str(corpus.getWork("bach/bwv66.6")), str(tmp_path / "x.json"), "--plain"]) == 1
    assert "--plain" in capsys.readouterr().err


def test_humdrum_kern_input_is_notagens_text_of_music21s_reading(tmp_path):
    kern = next(Path(p) for p in corpus.getPaths() if str(p).endswith("palestrina/Agnus_01.krn"))
    as_xml = tmp_path / "agnus.musicxml"
    converter.parse(str(kern)).write("musicxml", fp=str(as_xml))
    header, bars = reference_text(as_xml)
    out = tmp_path / "agnus.abc"
    assert main(["convert", str(kern), str(out)]) == 0
    assert_notagen_text(out.read_text().splitlines(keepends=True), header, bars)
    assert len(read_excerpt(kern)["measures"]) == len(bars)


def test_mei_input_reads_every_note(tmp_path):
    excerpt = read_excerpt(MEI_FILE)
    chords = sum(1 for m in excerpt["measures"] for s in m["staves"] for v in s["voices"] for e in v["events"]
                 if e["type"] == "chord")
    parsed = converter.parse(str(MEI_FILE))
    assert chords == len([n for n in parsed.recurse().notes if not n.duration.isGrace])
    assert main(["convert", str(MEI_FILE), str(tmp_path / "mei.abc")]) == 0
    assert "K:F" in (tmp_path / "mei.abc").read_text()


def test_kern_and_mei_are_not_written(tmp_path, capsys):
    assert main(["convert", str(corpus.getWork("bach/bwv66.6")), str(tmp_path / "x.krn")]) == 1
    assert "read, not written" in capsys.readouterr().err
