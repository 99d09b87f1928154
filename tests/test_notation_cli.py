"""`notabridge convert` end to end, and bad input: clear one-line errors or reported simplifications."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from music21 import corpus

from notabridge.cli.main import main
from notabridge.notation import NotationError, excerpt_from_musicxml, excerpt_to_musicxml, read_excerpt
from notabridge.notation.compare import excerpt_differences
from tests.notation_helpers import WHOLE_REST, two_part_xml, whole


@pytest.fixture()
def chorale(tmp_path):
    path = tmp_path / "chorale.mxl"
    path.write_bytes(corpus.getWork("bach/bwv66.6").read_bytes())
    return path


def test_convert_chain_through_every_format_keeps_the_music(chorale, tmp_path, capsys):
    chain = ["a.json", "b.musicxml", "c.abc", "d.mxl", "e.json"]
    previous = chorale
    for name in chain:
        assert main(["convert", str(previous), str(tmp_path / name)]) == 0
        previous = tmp_path / name
    original = excerpt_from_musicxml(chorale)
    assert excerpt_differences(original, read_excerpt(tmp_path / "e.json")) == []
    assert (tmp_path / "c.abc").read_text().startswith("%%score")


def test_convert_measure_range_and_prompt(chorale, tmp_path):
    out = tmp_path / "cut.json"
    assert main(["convert", str(chorale), str(out), "--measures", "3-5", "--context", "1"]) == 0
    cut = json.loads(out.read_text())
    assert [m["number"] for m in cut["measures"]] == [2, 3, 4, 5]
    assert cut["selection"]["start"] == 3 and cut["selection"]["end"] == 6
    abc = tmp_path / "cut.abc"
    assert main(["convert", str(out), str(abc), "--prompt", "Baroque", "Bach, Johann Sebastian", "Choral"]) == 0
    lines = abc.read_text().splitlines()
    assert lines[:3] == ["%Baroque", "%Bach, Johann Sebastian", "%Choral"]
    assert sum(line.startswith("[V:") for line in lines) == 4


def test_convert_to_midi_and_back(chorale, tmp_path, capsys):
    assert main(["convert", str(chorale), str(tmp_path / "c.mid")]) == 0
    assert main(["convert", str(tmp_path / "c.mid"), str(tmp_path / "c.json")]) == 0
    assert "quantised" in capsys.readouterr().err  # the simplification is reported on stderr


BAD_FILES = {
    "broken.musicxml": b"<score-partwise><part id='P1'><measure number='1'><note>",
    "notzip.mxl": b"this is not a zip archive",
    "noise.mid": b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x10\x00\x90",
    "text.mid": b"hello",
    "syntax.json": b"{\"format\": \"notabridge-excerpt\", ",
    "schema.json": json.dumps({"format": "notabridge-excerpt", "version": 1, "parts": [], "staves": [],
                               "measures": [{"index": 0, "time": "3/4", "key": 12, "staves": []}]}).encode(),
    "garbage.abc": b"this is not ABC at all",
    "empty.musicxml": two_part_xml([WHOLE_REST], [WHOLE_REST]).encode(),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_input_gives_one_clear_line(name, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    assert main(["convert", str(path), str(tmp_path / "out.abc")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("notabridge convert: ") and "\n" not in err and "Traceback" not in err
    if name == "schema.json":
        assert "measures[0].key" in err


def test_unknown_extension_and_bad_range(chorale, tmp_path, capsys):
    assert main(["convert", str(chorale), str(tmp_path / "out.pdf")]) == 1
    assert ".pdf" in capsys.readouterr().err
    assert main(["convert", str(chorale), str(tmp_path / "out.json"), "--measures", "five"]) == 1
    assert "A-B" in capsys.readouterr().err
    assert main(["convert", str(chorale), str(tmp_path / "out.json"), "--measures", "40-50"]) == 1


def _note_xml(inner: str) -> str:
    return f"<note>{inner}<duration>4</duration><voice>1</voice><type>whole</type></note>"


def test_percussion_is_a_reported_simplification_and_grace_notes_are_kept(tmp_path, capsys):
    grace = "<note><grace/><pitch><step>D</step><octave>5</octave></pitch><voice>1</voice><type>eighth</type></note>"
    drum = _note_xml("<unpitched><display-step>C</display-step><display-octave>5</display-octave></unpitched>")
    path = tmp_path / "odd.musicxml"
    path.write_text(two_part_xml([grace + whole("C", 5)], [drum]))
    excerpt = read_excerpt(path)
    first = excerpt["measures"][0]["staves"][0]["voices"][0]["events"][0]
    assert first["grace"] == [{"notes": [{"pitch": 74, "tpc": 16}], "type": "eighth"}]
    assert any("percussion" in w for w in excerpt["warnings"])
    assert [e["type"] for e in excerpt["measures"][0]["staves"][1]["voices"][0]["events"]] == ["rest"]
    assert main(["convert", str(path), str(tmp_path / "odd.json")]) == 0
    err = capsys.readouterr().err
    assert "percussion" in err and "grace" not in err
    # MusicXML -> ABC is NotaGen's own chain on the file: the grace note and the drum stay
    assert main(["convert", str(path), str(tmp_path / "odd.abc")]) == 0
    body = [line for line in (tmp_path / "odd.abc").read_text().splitlines() if line.startswith("[V:")]
    assert body == ["[V:1]{d} c8|[V:2]c8|"]


def test_unequal_voice_lengths_in_musicxml_are_filled_not_crashing(tmp_path):
    short = "<note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><voice>1</voice><type>half</type></note>"
    path = tmp_path / "short.musicxml"
    path.write_text(two_part_xml([short], [whole("C", 4)]))
    excerpt = read_excerpt(path)
    assert [e["type"] for e in excerpt["measures"][0]["staves"][0]["voices"][0]["events"]] == ["chord", "rest"]


def test_notation_error_is_a_value_error():
    assert issubclass(NotationError, ValueError)


@pytest.mark.skipif(not shutil.which("mscore3"), reason="MuseScore 3 (mscore3) is not installed")
def test_musescore_reads_the_musicxml_we_write(tmp_path):
    """Our MusicXML opened by the real MuseScore 3 and exported again keeps every note."""
    from tests.notation_helpers import piano_excerpt

    ours = tmp_path / "ours.musicxml"
    ours.write_bytes(excerpt_to_musicxml(piano_excerpt()))
    back = tmp_path / "back.musicxml"
    subprocess.run(["mscore3", "-o", str(back), str(ours)], check=True, capture_output=True, timeout=120,
                   env={"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    result = excerpt_from_musicxml(back)
    assert excerpt_differences(piano_excerpt(), result) == []
    assert [m["time"] for m in result["measures"]] == ["3/4", "3/4", "4/4", "4/4"]
    assert [s["clef"] for s in result["staves"]] == ["treble", "treble", "bass"]
