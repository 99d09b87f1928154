"""`notabridge convert score.musicxml out.abc` is NotaGen's training text, line for line.

The reference (tests/notagen_reference.py) is NotaGen's data scripts transcribed step by step:
abctoolkit's xml2abc run as a script with `-d 8 -c 6 -x`, then 2_data_preprocess.py's steps
with abctoolkit's functions, for the piece in its own key. Real scores nobody here wrote.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from music21 import corpus

from notabridge.cli.main import main
from tests.musescore_helpers import MSCORE, convert as mscore_convert
from tests.notagen_reference import reference_text, xml2abc_script
from tests.notation_helpers import two_part_xml, whole

# chorale (minor key), trio sonata, string quartet, song with piano, piano rag, madrigal
CORPUS_WORKS = ["bach/bwv66.6", "corelli/opus3no1/1grave", "mozart/k80/movement1",
                "schumann_robert/dichterliebe_no2", "joplin/maple_leaf_rag", "monteverdi/madrigal.3.1"]


def _corpus_file(work: str, tmp_path: Path) -> Path:
    path = corpus.getWork(work)
    path = Path(path[0] if isinstance(path, list) else path)
    if path.suffix in (".mxl", ".xml", ".musicxml"):
        return path
    out = tmp_path / (path.stem + ".musicxml")  # humdrum, ABC: through music21, as a user would
    corpus.parse(work).write("musicxml", fp=str(out))
    return out


def _converted(score: Path, out: Path, *extra: str) -> list[str]:
    assert main(["convert", str(score), str(out), *extra]) == 0
    return out.read_text(encoding="utf-8").splitlines(keepends=True)


def assert_notagen_text(lines: list[str], header: list[str], bars: list[str]) -> None:
    """Our lines == NotaGen's header and bar lines; a bar where every voice rests (NotaGen: an
    empty line its training drops) is V:1's rest alone, so that lines stay bars."""
    assert lines[:len(header)] == header
    body = lines[len(header):]
    assert len(body) == len(bars)
    for ours, theirs in zip(body, bars):
        if theirs:
            assert ours == theirs
        else:
            assert ours.startswith("[V:1]") and ours.count("[V:") == 1 and not any(
                c.isalpha() and c not in "zZxX" for c in ours[5:])


@pytest.mark.parametrize("work", CORPUS_WORKS + ["palestrina/Agnus_01"])
def test_convert_is_notagen_text_on_corpus_scores(work, tmp_path):
    score = _corpus_file(work, tmp_path)
    header, bars = reference_text(score)
    assert_notagen_text(_converted(score, tmp_path / "out.abc"), header, bars)


@pytest.mark.skipif(MSCORE is None, reason="MuseScore 3 (mscore3) is not installed")
@pytest.mark.parametrize("demo", ["Reunion.mscz", "Brassed_Up.mscx"])
def test_convert_is_notagen_text_on_musescore_demos(demo, tmp_path):
    score = mscore_convert(Path("/usr/share/mscore3-3.2/demos") / demo, tmp_path / "demo.musicxml", tmp_path / "home")
    header, bars = reference_text(score)
    assert_notagen_text(_converted(score, tmp_path / "out.abc"), header, bars)


def test_minor_key_keeps_its_mode_and_voices_their_grouping(tmp_path):
    lines = _converted(corpus.getWork("bach/bwv66.6"), tmp_path / "out.abc")
    assert "K:F#min\n" in lines
    assert "%%score [ 1 | 2 | 3 | 4 ]\n" in lines
    assert any("!fermata!" in line for line in lines)


def test_measure_range_is_the_reference_lines_of_those_bars(tmp_path):
    score = corpus.getWork("bach/bwv66.6")  # starts with a pickup measure numbered 0
    header, bars = reference_text(score)
    lines = _converted(score, tmp_path / "cut.abc", "--measures", "3-5", "--context", "1",
                       "--prompt", "Baroque", "Bach, Johann Sebastian", "Choral")
    assert lines[:3] == ["%Baroque\n", "%Bach, Johann Sebastian\n", "%Choral\n"]
    assert_notagen_text(lines[3:], header, bars[2:6])  # measures 2..5 are bars 2..5 after the pickup


def test_measure_range_header_has_the_key_in_force(tmp_path):
    first = "<attributes><key><fifths>2</fifths></key></attributes>" + whole("D", 5)
    xml = two_part_xml([whole("C", 5), first, whole("E", 5)], [whole("C", 4), whole("D", 4), whole("E", 4)])
    score = tmp_path / "keys.musicxml"
    score.write_text(xml)
    lines = _converted(score, tmp_path / "cut.abc", "--measures", "3-3")
    assert "K:D\n" in lines and "K:C\n" not in lines
    assert lines[-1] == "[V:1]e8|[V:2]E8|\n"


def _direction(inner: str) -> str:
    return f"<direction><direction-type>{inner}</direction-type></direction>"


def test_directions_notagen_ignores_are_ignored_not_a_crash(tmp_path, capsys):
    """<pedal type="change"> and friends: abctoolkit's xml2abc raises, NotaGen's copy skips them."""
    upper = [_direction('<pedal type="start"/>') + whole("C", 5),
             _direction('<pedal type="change"/>') + _direction('<wedge type="continue"/>') + whole("D", 5),
             _direction('<metronome><beat-unit>quarter</beat-unit><beat-unit>half</beat-unit></metronome>')
             + _direction('<pedal type="stop"/>') + whole("E", 5)]
    score = tmp_path / "pedal.musicxml"
    score.write_text(two_part_xml(upper, [whole("C", 4)] * 3))
    header, bars = reference_text(score)
    lines = _converted(score, tmp_path / "out.abc")
    assert_notagen_text(lines, header, bars)
    assert "!ped!" in "".join(lines) and "!ped-up!" in "".join(lines)
    assert capsys.readouterr().err == ""  # NotaGen skips these silently


def test_unknown_direction_and_accidental_types_are_skipped_with_one_warning(tmp_path, capsys):
    odd_flat = ("<note><pitch><step>B</step><alter>-1</alter><octave>4</octave></pitch><duration>4</duration>"
                "<type>whole</type><accidental>natural-flat</accidental></note>")
    quarter = ("<note><pitch><step>A</step><octave>4</octave></pitch><duration>4</duration>"
               "<type>whole</type><accidental>quarter-flat</accidental></note>")
    upper = [_direction('<pedal type="sostenuto"/>') + odd_flat, _direction('<pedal type="sostenuto"/>') + quarter]
    score = tmp_path / "odd.musicxml"
    score.write_text(two_part_xml(upper, [whole("C", 4)] * 2))
    lines = _converted(score, tmp_path / "out.abc")
    assert lines[-2:] == ["[V:1]_B8|[V:2]C8|\n", "[V:1]A8|[V:2]C8|\n"]  # natural-flat reads as flat (NotaGen)
    err = capsys.readouterr().err
    assert err.count("sostenuto") == 1 and err.count("quarter-flat") == 1
    assert "Traceback" not in err


def test_courtesy_accidentals_are_gone_as_in_notagens_text(tmp_path):
    courtesy = ("<note><pitch><step>F</step><octave>5</octave></pitch><duration>4</duration>"
                "<type>whole</type><accidental>natural</accidental></note>")
    score = tmp_path / "courtesy.musicxml"
    score.write_text(two_part_xml([courtesy], [whole("C", 4)]))
    assert "=f" in xml2abc_script(score)  # the engraver's courtesy natural is in xml2abc's text
    header, bars = reference_text(score)
    lines = _converted(score, tmp_path / "out.abc")
    assert_notagen_text(lines, header, bars)
    assert lines[-1] == "[V:1]f8|[V:2]C8|\n"


def test_lyric_numbers_xml2abc_cannot_read_are_not_a_crash(tmp_path):
    # Schubert's Lindenbaum numbers a lyric "chorus": xml2abc's int() fails there
    lines = _converted(corpus.getWork("schubert/lindenbaum"), tmp_path / "out.abc")
    assert not any(line.startswith("w:") for line in lines)
    assert sum(line.startswith("[V:") for line in lines) > 50


def _continue_input(path, start: int, end: int, prompt=None):
    """What compose's continue mode hands the engine for measures start..end-1 of a file."""
    from notabridge import notation
    from notabridge.jobs.compose import ComposeJob, _abc, _source_lines
    from notabridge.notation.notagen_chain import notagen_chain

    excerpt = notation.read_excerpt(path)
    chain = notagen_chain(path)
    job = ComposeJob(mode="continue", excerpt=excerpt, prompt=prompt, source_text=(chain.header, chain.bar_lines()))
    warnings: list[str] = []
    header, body = _abc(notation.cut_measures(excerpt, start, end), job, warnings)
    return _source_lines(job, header, body, start, end, warnings), chain, warnings


def test_continue_on_a_file_feeds_the_model_notagens_text_of_it():
    prompt = ("Baroque", "Bach, Johann Sebastian", "Choral")
    (header, body), chain, warnings = _continue_input(corpus.getWork("bach/bwv66.6"), 2, 9, prompt)
    assert warnings == []
    assert header == "%Baroque\n%Bach, Johann Sebastian\n%Choral\n" + "".join(chain.header)
    assert body == chain.bar_lines()[2:9]
    reference_header, reference_bars = reference_text(corpus.getWork("bach/bwv66.6"))
    assert body == reference_bars[2:9] and "".join(chain.header) == "".join(reference_header)


def test_continue_falls_back_to_the_excerpt_text_when_the_voices_do_not_line_up(tmp_path):
    from tests.notation_helpers import WHOLE_REST

    score = tmp_path / "late.musicxml"  # the lower part is silent in the measures the model reads
    score.write_text(two_part_xml([whole("C", 5), whole("D", 5), whole("E", 5)], [whole("C", 4), WHOLE_REST, WHOLE_REST]))
    (header, body), chain, warnings = _continue_input(score, 1, 3)
    assert any("do not line up" in w for w in warnings)
    assert body == ["[V:1]d8|\n", "[V:1]e8|\n"] and "V:2" not in header
