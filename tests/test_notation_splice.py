"""New bars go into the user's own MusicXML file; every element outside them stays.

Real scores (MuseScore's demos through mscore3, music21's corpus); the new bars are real bars of
the same piece read through the excerpt, as the engine's bars are.
"""
from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from music21 import corpus

from notabridge.cli.main import main
from notabridge.notation import excerpt_from_musicxml, read_excerpt, write_excerpt
from notabridge.notation.excerpt_base import copy_excerpt, note_signature
from notabridge.notation.musicxml_splice import splice_continue

from tests.musescore_helpers import MSCORE, convert as mscore_convert

DEMOS = Path("/usr/share/mscore3-3.2/demos")


def _tree(data: bytes) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    parser.feed(data)
    return parser.close()


def _text(element: ET.Element, number_shift: int = 0) -> str:
    element = copy.deepcopy(element)
    element.tail = None
    number = re.match(r"(-?\d+)(.*)$", element.get("number", ""))
    if number_shift and number:                     # "7a" (a split bar's second half) -> "11a"
        element.set("number", f"{int(number[1]) + number_shift}{number[2]}")
    return ET.tostring(element, encoding="unicode")


def assert_only_new_measures(before: bytes, after: bytes, at: int, count: int) -> None:
    """Everything of `before` is in `after` unchanged; `after` has `count` more measures at `at`
    (later measures' printed numbers move on by `count`; a final barline may move to the end;
    the measure after new bars that needed finer <divisions> restates the file's own)."""
    old, new = _tree(before), _tree(after)
    assert [c.tag for c in old] == [c.tag for c in new]
    for a, b in zip(old, new):
        if a.tag != "part":
            assert _text(a) == _text(b)
            continue
        old_measures, new_measures = a.findall("measure"), b.findall("measure")
        assert len(new_measures) == len(old_measures) + count
        kept = new_measures[:at] + new_measures[at + count:]
        for i, (x, y) in enumerate(zip(old_measures, kept)):
            if i == len(old_measures) - 1 and at == len(old_measures):
                final = [e for e in x.findall("barline") if e.findtext("bar-style") == "light-heavy"]
                for barline in final:  # the final barline now ends the new last measure
                    x.remove(barline)
                    assert _text(barline) in [_text(e) for e in new_measures[-1].findall("barline")]
            if i == at and at < len(old_measures) and not x.findall("attributes/divisions"):
                restated = y.find("attributes")
                if restated is not None and [c.tag for c in restated] == ["divisions"]:
                    y = copy.deepcopy(y)
                    y.remove(y.find("attributes"))
            assert _text(x, count if i >= at else 0) == _text(y), f"part {a.get('id')} measure {i} changed"


def _new_bars(excerpt: dict, source: range, at: int) -> list[dict]:
    bars = copy_excerpt({"m": [excerpt["measures"][i] for i in source]})["m"]
    for k, measure in enumerate(bars):
        measure["index"] = at + k
    return bars


def _same_notes(written: list[dict], read_back: list[dict]) -> bool:
    relabel = lambda ms: {"measures": [dict(m, index=k) for k, m in enumerate(ms)]}  # noqa: E731
    return note_signature(relabel(written)) == note_signature(relabel(read_back))


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    if MSCORE is None:
        pytest.skip("MuseScore 3 (mscore3) is not installed")
    folder = tmp_path_factory.mktemp("demos")
    return {name: mscore_convert(DEMOS / name, folder / (Path(name).stem + ".musicxml"), folder / "home")
            for name in ("Reunion.mscz", "Brassed_Up.mscx")}


@pytest.mark.parametrize("name", ["Reunion.mscz", "Brassed_Up.mscx"])
@pytest.mark.parametrize("where", ["end", "middle"])
def test_continue_into_a_musescore_demo_keeps_everything_else(demos, name, where):
    path = demos[name]
    excerpt = read_excerpt(path)
    at = len(excerpt["measures"]) if where == "end" else 8
    bars = _new_bars(excerpt, range(3, 5), at)
    before = path.read_bytes()
    after = splice_continue(path, excerpt, bars, at)
    assert_only_new_measures(before, after, at, len(bars))
    back = excerpt_from_musicxml(after)["measures"]
    assert _same_notes(bars, back[at:at + len(bars)])  # Brassed_Up: the B-flat trumpet written a tone up again


def _continue_corpus_work(work: str, copied: range, at: int) -> tuple[list[dict], bytes]:
    """Measures `copied` of a music21 corpus work spliced in after measure index `at`: (the new bars,
    the written MusicXML), checked to leave every other measure as it was."""
    from notabridge.notation.sources import musicxml_bytes

    path = Path(corpus.getWork(work))
    excerpt = read_excerpt(path)
    bars = _new_bars(excerpt, copied, at)
    after = splice_continue(path, excerpt, bars, at)
    assert_only_new_measures(musicxml_bytes(path), after, at, len(bars))
    return bars, after


def test_continue_into_a_corpus_quartet_keeps_everything_else(tmp_path):
    bars, after = _continue_corpus_work("mozart/k80/movement1", range(10, 13), 20)
    assert _same_notes(bars, excerpt_from_musicxml(after)["measures"][20:23])


def test_a_split_bar_after_the_new_measures_keeps_its_suffix_and_moves_on(tmp_path):
    # BWV 269 splits measure 7 at a fermata: "7" and "7a"; four bars after measure 6 make them "11" and "11a"
    _, after = _continue_corpus_work("bach/bwv269", range(3, 7), 7)
    numbers = [m.get("number") for m in _tree(after).find("part").findall("measure")]
    assert numbers[6:13] == ["6", "7", "8", "9", "10", "11", "11a"]


def test_finer_note_values_than_the_file_get_their_own_divisions_and_the_file_keeps_its_own(tmp_path):
    from tests.notation_helpers import two_part_xml, whole

    before = two_part_xml([whole("C", 5), whole("D", 5)], [whole("C", 4), whole("D", 4)]).encode()  # divisions 1
    excerpt = excerpt_from_musicxml(before)
    sixteenths = copy_excerpt(excerpt["measures"][0])
    spelled = [(72, 14), (73, 21), (74, 16)]  # C, C#, D
    sixteenths["staves"][0]["voices"][0]["events"] = [
        {"type": "chord", "duration": "1/16", "notes": [{"pitch": p, "tpc": t, "tie": None}]}
        for p, t in (spelled[k % 3] for k in range(16))]
    after = splice_continue(before, excerpt, [sixteenths], 1)
    measures = _tree(after).find("part").findall("measure")
    assert measures[1].findtext("attributes/divisions") == "4"
    assert measures[2].findtext("attributes/divisions") == "1"  # the file's own divisions again
    back = excerpt_from_musicxml(after)["measures"]
    assert _same_notes([excerpt["measures"][0], sixteenths, excerpt["measures"][1]], back)


def test_continue_command_writes_into_the_users_file(toy_bundle, tmp_path, capsys):
    """The CLI on a MusicXML file: dynamics, text, a chord symbol, lyrics and a slur outside the
    new bars are all still there, byte for byte."""
    from tests.engine_helpers import HEADER
    from tests.test_engine_compose import BARS
    from notabridge.notation import abc_to_excerpt

    src = tmp_path / "score.musicxml"
    write_excerpt(abc_to_excerpt(HEADER + "".join(BARS)), src)
    text = src.read_text()
    first_note = text.index("<note>", text.index('<measure number="1"'))
    text = (text[:first_note] + '<direction placement="below"><direction-type><dynamics><p/></dynamics></direction-type>'
            "</direction><direction><direction-type><words>dolce</words></direction-type></direction>"
            "<harmony><root><root-step>G</root-step></root><kind>major</kind></harmony>" + text[first_note:])
    text = text.replace("</type>", "</type><lyric number=\"1\"><syllable>single</syllable><text>la</text></lyric>", 1)
    src.write_text(text)
    out = tmp_path / "more.musicxml"
    assert main(["continue", str(src), "--measures", "1-4", "--bars", "2", "--seed", "2", "--model", str(toy_bundle),
                 "--quiet", "-o", str(out)]) == 0
    assert_only_new_measures(src.read_bytes(), out.read_bytes(), 4, 2)
    assert main(["continue", str(src), "--measures", "1-4", "--bars", "2", "--seed", "2", "--model", str(toy_bundle),
                 "--quiet", "-o", str(tmp_path / "more.mid")]) == 0
    assert "MIDI holds notes" in capsys.readouterr().out


def _timed_elements(measure: ET.Element, scale: int = 1) -> tuple[list, dict]:
    """(other elements with their onsets, notes per (staff, voice)) of a measure, as text."""
    from notabridge.notation.musicxml_splice import _timeline

    notes, others = _timeline(measure)
    voices: dict = {}
    for n in notes:
        voices.setdefault((n.staff, n.voice), []).append((n.onset * scale, _text(n.element)))
    return sorted((o.onset * scale, _text(o.element)) for o in others), voices


def assert_only_staves_rewritten(before: bytes, after: bytes, excerpt: dict, indices: set[int],
                                 written: set[int]) -> None:
    """`after` is `before` with only the notes of staves `written` in measures `indices` changed:
    every other measure is identical (the measure after finer new notes may restate the file's
    <divisions>), and in the rewritten measures every direction, chord symbol, barline ... and
    every note of the other staves (with its lyrics) is there at the same time."""
    old, new = _tree(before), _tree(after)
    for a, b, part in zip(old.findall("part"), new.findall("part"), excerpt["parts"]):
        local = {k + 1 for k, s in enumerate(part["staves"]) if s in written}
        for i, (x, y) in enumerate(zip(a.findall("measure"), b.findall("measure"))):
            if i not in indices or not local:
                if i - 1 in indices and y.findtext("attributes/divisions") and not x.findtext("attributes/divisions"):
                    y = copy.deepcopy(y)
                    y.remove(y.find("attributes"))  # the file's own divisions restated after finer new notes
                assert _text(x) == _text(y), f"part {part['id']} measure {i} changed"
                continue
            scale = int(y.findtext("attributes/divisions") or 1) // int(x.findtext("attributes/divisions") or 1) \
                if y.findtext("attributes/divisions") and not x.findtext("attributes/divisions") else 1
            old_others, old_voices = _timed_elements(x, scale)
            new_others, new_voices = _timed_elements(y)
            if scale == 1:  # every direction, chord symbol, barline ... at the same time in the measure
                assert old_others == new_others
            kept = {k: v for k, v in old_voices.items() if k[0] not in local}
            assert {k: v for k, v in new_voices.items() if k[0] not in local} == kept or scale != 1


@pytest.mark.parametrize("name,staff", [("Reunion.mscz", 0), ("Brassed_Up.mscx", 1), ("Reunion.mscz", None)])
def test_infill_replaces_only_the_chosen_staves_notes(demos, name, staff):
    from notabridge.notation.musicxml_splice import splice_infill

    path = demos[name]
    excerpt = read_excerpt(path)
    bars = _new_bars(excerpt, range(10, 12), 5)
    staves = None if staff is None else [staff]
    before = path.read_bytes()
    after = splice_infill(path, excerpt, bars, staves)
    written = set(staves if staves is not None else [s["index"] for s in excerpt["staves"]])
    assert_only_staves_rewritten(before, after, excerpt, {5, 6}, written)
    back = excerpt_from_musicxml(after)["measures"]
    original = excerpt["measures"]
    for k, index in enumerate((5, 6)):
        for entry in back[index]["staves"]:
            source = bars[k] if entry["staff"] in written else original[index]
            expected = next(s for s in source["staves"] if s["staff"] == entry["staff"])
            assert note_signature({"measures": [{"index": 0, "staves": [expected]}]}) == \
                   note_signature({"measures": [{"index": 0, "staves": [entry]}]})


@pytest.fixture(scope="module")
def duo(tmp_path_factory) -> Path:
    """Soprano (with its lyrics) and bass of a Bach chorale in 3/4, as music21 writes it."""
    from music21 import stream

    chorale = corpus.parse("bach/bwv122.6")
    path = tmp_path_factory.mktemp("duo") / "duo.musicxml"
    stream.Score([chorale.parts[0], chorale.parts[-1]]).write("musicxml", str(path))
    return path


def _range_indices(path: Path, measures: str) -> set[int]:
    from notabridge.cli.score_range import parse_measures
    from notabridge.notation import indices_for_numbers

    start, end = indices_for_numbers(read_excerpt(path), *parse_measures(measures))
    return set(range(start, end))


@pytest.mark.parametrize("source,command,written", [
    ("duo", ["infill", "--measures", "3-4"], {0, 1}),
    ("duo", ["infill", "--measures", "3-4", "--staves", "1"], {1}),
    ("duo", ["accompany", "--measures", "2-5", "--staves", "1"], {1}),      # the soprano and its lyrics stay
    ("Reunion.mscz", ["accompany", "--measures", "3-4", "--staves", "1"], {1}),
    ("Brassed_Up.mscx", ["infill", "--measures", "5-6", "--staves", "0"], {0}),   # a B-flat trumpet
])
def test_infill_and_accompany_commands_write_into_the_users_file(toy_bundle, duo, demos, tmp_path, source, command, written):
    """From a real MusicXML file to MusicXML: only the notes of the written staves in the range
    change; every other measure, staff, lyric, direction and barline is the file's own."""
    path = duo if source == "duo" else demos[source]
    out = tmp_path / "out.musicxml"
    assert main([command[0], str(path), *command[1:], "--seed", "3", "--model", str(toy_bundle), "-o", str(out)]) == 0
    excerpt = read_excerpt(path)
    indices = _range_indices(path, command[command.index("--measures") + 1])
    assert_only_staves_rewritten(path.read_bytes(), out.read_bytes(), excerpt, indices, written)
    back = read_excerpt(out)            # a valid score, every voice filling its measures
    changed = [(m["index"], s["staff"]) for m, n in zip(excerpt["measures"], back["measures"]) for s, t in zip(m["staves"], n["staves"])
               if note_signature({"measures": [dict(m, staves=[s])]}) != note_signature({"measures": [dict(n, staves=[t])]})]
    assert changed and all(index in indices and staff in written for index, staff in changed)


def test_accompany_on_a_score_names_what_is_missing(toy_bundle, duo, tmp_path, capsys):
    out = tmp_path / "out.musicxml"
    assert main(["accompany", str(duo), "--model", str(toy_bundle), "-o", str(out)]) == 1
    assert "--staves" in capsys.readouterr().err
    assert main(["accompany", str(duo), "--staves", "0,1", "--model", str(toy_bundle), "-o", str(out)]) == 1
    assert "leave at least one staff out" in capsys.readouterr().err
    assert main(["infill", str(duo), "--measures", "3-4", "--staves", "5", "--model", str(toy_bundle), "-o", str(out)]) == 1
    assert "the score has staves [0, 1]" in capsys.readouterr().err
    assert not out.exists()
    from tests.daw_helpers import write_melody

    waltz = [(i, 1, p) for i, p in enumerate([67, 69, 71, 74, 74, 74, 71, 69, 67, 72, 72, 71])]
    melody = write_melody(tmp_path / "melody.mid", waltz, meter=(3, 4), bpm=96, key="G")
    assert main(["accompany", str(melody), "--staves", "1", "--model", str(toy_bundle), "-o", str(tmp_path / "a.mid")]) == 1
    assert "for a score" in capsys.readouterr().err
