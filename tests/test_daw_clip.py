"""Melody clips as DAWs write them -> quantised melody in its key and meter (notabridge.notation.midi_clip)."""
from __future__ import annotations

from fractions import Fraction

import pytest

from notabridge.notation import midi_clip
from notabridge.notation.errors import NotationError
from tests.daw_helpers import write_melody

# "Ode to Joy", first phrase, in quarters: (start, length, pitch), in D major
ODE = [(i, 1, p) for i, p in enumerate([66, 66, 67, 69, 69, 67, 66, 64, 62, 62, 64, 66])] + [(12, 1.5, 66), (13.5, 0.5, 64), (14, 2, 64)]


def _written(notes, tpb=480, shift=0.0):
    return [(round((s + shift) * tpb), round((s + shift + d) * tpb), p) for s, d, p in notes]


def _clip_notes(clip):
    return [(n.start, n.end, n.pitch) for n in clip.notes]


def test_humanised_legato_melody_comes_back_as_written(tmp_path):
    # onsets and releases up to 40 ticks (1/12 of a beat) off, releases overlapping the next note
    path = write_melody(tmp_path / "ode.mid", ODE, jitter=40, legato=60, seed=3)
    clip = midi_clip.read_clip(path)
    assert _clip_notes(clip) == _written(ODE)
    assert (clip.numerator, clip.denominator, clip.pickup, clip.measures) == (4, 4, 0, 4)
    assert clip.tempo_bpm == pytest.approx(100.0)


def test_key_is_estimated_without_a_key_signature_and_read_with_one(tmp_path):
    estimated = midi_clip.read_clip(write_melody(tmp_path / "a.mid", ODE))
    assert (estimated.key_fifths, estimated.key_mode, estimated.key_estimated) == (2, "major", True)
    # the same notes with a key signature saying B minor: the file's signature wins
    declared = midi_clip.read_clip(write_melody(tmp_path / "b.mid", ODE, key="Bm"))
    assert (declared.key_fifths, declared.key_mode, declared.key_estimated) == (2, "minor", False)
    flats = midi_clip.read_clip(write_melody(tmp_path / "c.mid", [(0, 4, 63), (4, 4, 70)], key="Eb"))
    assert flats.key_fifths == -3
    # spelling follows the key: E-flat, not D-sharp
    assert [n.name for n in midi_clip.clip_to_score(flats).recurse().notes] == ["E-", "B-"]


def test_triplets_are_kept_and_straight_sixteenths_are_not_turned_into_triplets(tmp_path):
    third = Fraction(1, 3)
    notes = [(0, third, 60), (third, third, 62), (2 * third, third, 64), (1, 0.25, 65), (1.25, 0.25, 67),
             (1.5, 0.5, 69), (2, 2, 72)]
    path = write_melody(tmp_path / "t.mid", [(float(s), float(d), p) for s, d, p in notes], jitter=15, seed=1)
    clip = midi_clip.read_clip(path)
    assert [n.start for n in clip.notes] == [0, 160, 320, 480, 600, 720, 960]
    durations = [n.quarterLength for n in midi_clip.clip_to_score(clip).recurse().notes]
    assert durations == [third, third, third, 0.25, 0.25, 0.5, 2.0]


def test_three_four_with_a_pickup_after_a_leading_rest(tmp_path):
    # DAW clip: the bar starts at the clip start, the upbeat is the third beat
    notes = [(2, 1, 67)] + [(3 + i, 1, p) for i, p in enumerate([72, 71, 69, 67, 69, 71])] + [(9, 3, 72)]
    clip = midi_clip.read_clip(write_melody(tmp_path / "p.mid", notes, meter=(3, 4), jitter=30, seed=2))
    assert (clip.numerator, clip.denominator) == (3, 4)
    assert clip.pickup == 480 and clip.first_downbeat == 1440 and clip.measures == 4
    assert [clip.measure_start(i) for i in range(4)] == [960, 1440, 2880, 4320]
    measures = list(midi_clip.clip_to_score(clip).parts[0].getElementsByClass("Measure"))
    assert [m.number for m in measures] == [0, 1, 2, 3]
    assert measures[0].paddingLeft == 2.0 and measures[0].duration.quarterLength == 1.0
    assert [[n.pitch.midi for n in m.notes] for m in measures] == [[67], [72, 71, 69], [67, 69, 71], [72]]


def test_six_eight_meter_and_leading_empty_bars(tmp_path):
    # two empty bars, then a 6/8 tune on the downbeat of bar 3 (a DAW clip that starts early)
    tune = [(0, 1.5, 67), (1.5, 0.5, 69), (2, 0.5, 67), (2.5, 0.5, 65), (3, 1.5, 64), (4.5, 1.5, 60)]
    path = write_melody(tmp_path / "68.mid", [(s + 6, d, p) for s, d, p in tune], meter=(6, 8), jitter=20, seed=5)
    clip = midi_clip.read_clip(path)
    assert (clip.time, clip.bar_ticks, clip.pickup, clip.first_downbeat, clip.measures) == ("6/8", 1440, 0, 2880, 2)
    measures = list(midi_clip.clip_to_score(clip).parts[0].getElementsByClass("Measure"))
    assert measures[0].timeSignature.ratioString == "6/8"
    assert [n.quarterLength for n in measures[0].notes] == [1.5, 0.5, 0.5, 0.5]


def test_chords_and_second_tracks_reduce_to_the_top_line_with_a_warning(tmp_path):
    import mido

    path = write_melody(tmp_path / "m.mid", [(0, 1, 72), (0, 1, 64), (1, 1, 74), (2, 2, 76)])
    midi = mido.MidiFile(str(path))
    extra = mido.MidiTrack([mido.Message("note_on", note=40, velocity=80, channel=1, time=0),
                            mido.Message("note_off", note=40, velocity=0, channel=1, time=480)])
    midi.tracks.append(extra)
    clip = midi_clip.clip_from_midi(midi)
    assert [n.pitch for n in clip.notes] == [72, 74, 76]
    assert any("only track 2" in w for w in clip.warnings)


def test_unreadable_and_empty_files_say_what_to_do(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd not really")
    with pytest.raises(NotationError, match="cannot read this MIDI file"):
        midi_clip.read_clip(bad)
    empty = write_melody(tmp_path / "empty.mid", [])
    with pytest.raises(NotationError, match="no notes"):
        midi_clip.read_clip(empty)


def test_an_essen_folk_tune_written_by_music21_survives_as_its_melody(tmp_path):
    """A real tune nobody here wrote: music21's Essen corpus -> MIDI (music21's writer) -> clip."""
    from music21 import corpus

    tune = corpus.parse("essenFolksong/altdeu10", number=32)   # "Herr von Falkenstein", 4/4, upbeat
    path = tmp_path / "falkenstein.mid"
    tune.write("midi", fp=str(path))
    first = tune.parts[0].getElementsByClass("Measure")[0]
    upbeat = Fraction(first.duration.quarterLength)
    clip = midi_clip.read_clip(path, pickup_quarters=upbeat)   # music21 starts the file on the upbeat
    original = [(Fraction(n.getOffsetInHierarchy(tune)), n.pitch.midi) for n in tune.recurse().notes if not n.tie or n.tie.type == "start"]
    got = [(Fraction(n.start, clip.ticks_per_beat), n.pitch) for n in clip.notes]
    assert got == original
    assert clip.measures == len(tune.parts[0].getElementsByClass("Measure"))
    rebuilt = midi_clip.clip_to_score(clip).parts[0]
    # every measure holds the same pitches at the same beats as the printed tune
    for mine, theirs in zip(rebuilt.getElementsByClass("Measure"), tune.parts[0].getElementsByClass("Measure")):
        assert [(n.offset, n.pitch.midi) for n in mine.notes] == [(n.offset, n.pitch.midi) for n in theirs.notes]


def test_accompaniment_tracks_land_on_the_melody_bars_of_a_real_chorale(tmp_path):
    """Bach's BWV 66.6 (4/4, upbeat): its soprano, played with human timing, is the clip; its own
    alto, tenor and bass (as excerpt JSON from the notation layer) are the accompaniment. The
    assembled file must hold every lower-voice note exactly where the chorale has it."""
    import mido
    from music21 import corpus

    from notabridge.notation.music21_bridge import excerpt_from_score
    from tests.daw_helpers import absolute_notes, track_length

    chorale = corpus.parse("bach/bwv66.6")
    first = chorale.parts[0].getElementsByClass("Measure")[0]
    shift = 4.0 - first.duration.quarterLength        # a DAW puts the upbeat at the end of bar 1

    def line(part):
        tied = part.stripTies()
        return [(float(n.getOffsetInHierarchy(tied)) + shift, float(n.quarterLength), n.pitch.midi)
                for n in tied.recurse().notes]

    path = write_melody(tmp_path / "soprano.mid", line(chorale.parts[0]), key="F#m", jitter=25, seed=7)
    midi = midi_clip.read_midi(path)
    clip = midi_clip.clip_from_midi(midi)
    measures = len(chorale.parts[0].getElementsByClass("Measure"))
    assert (clip.pickup, clip.measures) == (480, measures)

    lower = excerpt_from_score(chorale)
    out = midi_clip.add_accompaniment(midi, clip, lower, [1, 2, 3])
    saved = tmp_path / "out.mid"
    out.save(str(saved))
    back = mido.MidiFile(str(saved))
    assert len(back.tracks) == 5
    assert [list(t) for t in back.tracks[:2]] == [list(t) for t in mido.MidiFile(str(path)).tracks]   # melody untouched
    for track, part in zip(back.tracks[2:], chorale.parts[1:]):
        expected = sorted((round(s * 480), round((s + d) * 480), p) for s, d, p in line(part))
        assert absolute_notes(track) == expected
        assert track_length(track) == clip.end_tick == measures * 1920
    assert {m.tempo for t in back.tracks for m in t if m.type == "set_tempo"} == {mido.bpm2tempo(100.0)}


def test_a_midi_file_is_timed_alike_as_a_clip_and_as_a_score(tmp_path):
    """`convert`/`continue` on a .mid file (notation.midi) and a DAW clip (midi_clip) snap a
    played file to one grid: triplets where the beat is played in triplets, sixteenths elsewhere,
    a humanised legato line back as written (music21's own quantiser took 43% of the notes of
    real chorales to their written onset at this jitter)."""
    from notabridge.notation import excerpt_from_midi

    third = Fraction(1, 3)
    notes = [(0.0, float(third), 60), (float(third), float(third), 62), (float(2 * third), float(third), 64),
             (1.0, 0.25, 65), (1.25, 0.25, 67), (1.5, 0.5, 69), (2.0, 2.0, 72)] + [(s + 4, d, p) for s, d, p in ODE]
    path = write_melody(tmp_path / "t.mid", notes, jitter=15, legato=40, seed=4)
    clip = midi_clip.read_clip(path)
    assert _clip_notes(clip) == _written(notes)
    excerpt = excerpt_from_midi(path)
    onsets, at = [], Fraction(0)
    for measure in excerpt["measures"]:
        for event in measure["staves"][0]["voices"][0]["events"]:
            if event["type"] == "chord" and all(n.get("tie") not in ("stop", "continue") for n in event["notes"]):
                onsets.append((at, event["notes"][0]["pitch"]))
            at += Fraction(event["duration"]) * 4
    assert onsets == [(Fraction(s).limit_denominator(12), p) for s, _, p in notes]
