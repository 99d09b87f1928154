"""The live door writes each played bar as NotaGen's ABC itself (no xml2abc per bar): it must
be the very text the offline path (a clip file through music21 and xml2abc) gives the same
melody, and read back to the same notes."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from tests.daw_helpers import write_melody
from tests.live_helpers import chorale_soprano, folk_tune, played_bars

MELODIES = {
    "bwv66.6 (4/4, upbeat)": lambda: chorale_soprano("bach/bwv66.6"),
    "bwv269 (dotted rhythms)": lambda: chorale_soprano("bach/bwv269"),
    "bwv1.6 (sixteenths, ties over the bar)": lambda: chorale_soprano("bach/bwv1.6"),
    "bwv40.8 (F minor)": lambda: chorale_soprano("bach/bwv40.8"),
    "Zwei Koenigskinder (3/4, upbeat)": folk_tune,
}


@pytest.mark.parametrize("name", MELODIES)
def test_a_played_bar_is_written_as_the_offline_path_writes_it(name, tmp_path):
    from notabridge.abc.bar_check import parse_line
    from notabridge.notation import excerpt_to_abc, midi_clip, split_abc
    from notabridge.notation.live_bars import VoiceReader, melody_bar

    notes, upbeat, meter, _key = MELODIES[name]()
    bar = Fraction(4 * meter[0], meter[1])
    offset = bar - upbeat if upbeat else Fraction(0)
    path = write_melody(Path(tmp_path) / "m.mid", [(float(o + offset), float(n), p) for o, n, p in notes],
                        meter=meter, bpm=100)
    clip = midi_clip.read_clip(str(path))
    _, body = split_abc(excerpt_to_abc(midi_clip.accompaniment_excerpt(clip, 1)))
    offline = [parse_line(line)[1][0].content for line in body]
    beat = Fraction(4, meter[1])
    live = [melody_bar(bar_notes, length, clip.key_fifths, beat) for bar_notes, length in played_bars(notes, upbeat, meter)]
    assert live == offline
    reader = VoiceReader(clip.key_fifths, f"{meter[0]}/{meter[1]}")
    back = [n.pitch for text in live for n in reader.notes(text) if not n.tie_in]
    assert back == [p for _, _, p in notes]


def test_triplets_and_accidentals_read_back_exactly():
    from notabridge.notation.live_bars import BarNote, VoiceReader, melody_bar

    F = Fraction
    bar = [BarNote(F(0), F(1, 3), 60), BarNote(F(1, 3), F(2, 3), 61), BarNote(F(2, 3), F(4, 3), 63),
           BarNote(F(4, 3), F(2), 61), BarNote(F(5, 2), F(4), 66, tie_out=True)]
    text = melody_bar(bar, F(4), key_fifths=-3)      # E-flat major: C# and F# need accidentals
    assert text.startswith("(3:2:3") and text.endswith("-")
    notes = VoiceReader(-3, "4/4").notes(text)
    merged = [(n.start, n.end, n.pitch) for n in notes]
    assert merged == [(n.start, n.end, n.pitch) for n in bar]
    assert notes[-1].tie_out
