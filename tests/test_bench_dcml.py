"""bench/dcml_scores.py rebuilds the DCML note tables the fine-tuning benchmark uses as a user's scores.

A small table written by hand (the real one is fetched from PyPI by the benchmark, not here) with what
the Grieg pieces hold: a pickup, a chord, a tie across the bar line, a double flat, two voices on
one staff, a key change and a low second staff. The rebuilt MusicXML is read back with music21."""
from __future__ import annotations

from music21 import converter

from bench.dcml_scores import music21_name, piece_score

FIELDS = ("mc", "mn", "mc_onset", "duration", "staff", "voice", "gracenote", "tied", "name", "midi")
MEASURES = [{"mc": "1", "mn": "0", "keysig": "-3", "timesig": "3/4", "act_dur": "1/4"},
            {"mc": "2", "mn": "1", "keysig": "-3", "timesig": "3/4", "act_dur": "3/4"},
            {"mc": "3", "mn": "2", "keysig": "2", "timesig": "3/4", "act_dur": "3/4"}]
NOTES = [dict(zip(FIELDS, row)) for row in [
    ("1", "0", "0", "1/4", "1", "1", "", "", "Bb4", "70"),                      # pickup
    ("2", "1", "0", "1/2", "1", "1", "", "", "Eb5", "75"),
    ("2", "1", "0", "1/2", "1", "1", "", "", "G5", "79"),                        # chord with the Eb5
    ("2", "1", "1/2", "1/4", "1", "1", "", "1", "Bbb4", "69"),                   # double flat, tied on
    ("2", "1", "0", "3/4", "1", "2", "", "", "Eb4", "63"),                       # second voice
    ("2", "1", "0", "3/4", "2", "1", "", "", "Eb2", "39"),
    ("2", "1", "1/4", "1/16", "1", "1", "grace", "", "F5", "77"),                # grace note: left out
    ("3", "2", "0", "1/4", "1", "1", "", "-1", "Bbb4", "69"),
    ("3", "2", "1/4", "1/2", "1", "1", "", "", "F#5", "78"),
    ("3", "2", "0", "3/4", "2", "1", "", "", "D2", "38"),
]]


def test_pitch_names_become_music21_spelling() -> None:
    assert [music21_name(n) for n in ("Bbb4", "F#3", "C##5")] == ["B--4", "F#3", "C##5"]


def test_a_note_table_round_trips_through_musicxml(tmp_path) -> None:
    path = tmp_path / "piece.musicxml"
    piece_score(NOTES, MEASURES).write("musicxml", fp=str(path))
    score = converter.parse(str(path))
    upper, lower = score.parts
    measures = upper.getElementsByClass("Measure")
    assert [m.number for m in measures] == [0, 1, 2]
    assert measures[0].duration.quarterLength == 1                              # the pickup keeps its length
    assert [m.keySignature.sharps for m in measures if m.keySignature] == [-3, 2]
    pitches = [p.nameWithOctave for n in upper.flatten().notes for p in n.pitches]
    assert sorted(pitches) == sorted(["B-4", "E-5", "G5", "B--4", "E-4", "B--4", "F#5"])   # no grace note
    tied = [n for n in upper.flatten().notes if n.tie is not None]
    assert [(n.nameWithOctave, n.tie.type) for n in tied] == [("B--4", "start"), ("B--4", "stop")]
    assert len(measures[1].voices) == 2
    assert lower.flatten().getElementsByClass("Clef").first().sign == "F"
    assert upper.flatten().getElementsByClass("Clef").first().sign == "G"
