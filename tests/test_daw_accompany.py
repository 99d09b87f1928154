"""`notabridge accompany`: real melody .mid files in, accompanied .mid out (a real tiny model)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import pytest

from tests.daw_helpers import absolute_notes, track_length, write_melody

ROOT = Path(__file__).resolve().parents[1]
# a 6/8 tune with an eighth-note upbeat, played with human timing
JIG = [(2.5, 0.5, 67), (3, 1, 72), (4, 0.5, 72), (4.5, 1, 74), (5.5, 0.5, 76), (6, 1.5, 77), (7.5, 1.5, 76),
       (9, 1, 74), (10, 0.5, 72), (10.5, 1.5, 71)]


def _accompany(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notabridge.cli.main", "accompany", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def _check_accompanied(melody_path: Path, out_path: Path, voices: int, bar_ticks: int, first_bar: int, bars: int):
    """The melody tracks untouched; `voices` new tracks with notes, all inside the melody's full
    bars (the upbeat before `first_bar` is the melody's alone), every voice holding at least one
    note in every bar, none longer than the melody's last bar."""
    original, out = mido.MidiFile(str(melody_path)), mido.MidiFile(str(out_path))
    assert out.ticks_per_beat == original.ticks_per_beat
    assert [list(t) for t in out.tracks[:len(original.tracks)]] == [list(t) for t in original.tracks]
    added = out.tracks[len(original.tracks):]
    assert len(added) == voices
    end = first_bar + bars * bar_ticks
    for track in added:
        assert track_length(track) == end          # every voice lasts exactly the melody's bars
        notes = absolute_notes(track)
        for start, stop, _pitch in notes:
            assert first_bar <= start < stop <= end
        sounding_bars = {(t - first_bar) // bar_ticks for start, stop, _ in notes for t in (start, stop - 1)}
        assert sounding_bars == set(range(bars))
    return added


def test_humanised_jig_in_six_eight_with_an_upbeat_gets_accompanied_on_its_bars(tmp_path, toy_bundle):
    melody = write_melody(tmp_path / "jig.mid", JIG, meter=(6, 8), bpm=132, jitter=30, seed=4)
    out = tmp_path / "jig-accompanied.mid"
    done = _accompany(str(melody), "-o", str(out), "--model", str(toy_bundle), "--voices", "1", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert "6/8" in done.stdout and "pickup" in done.stdout
    # the upbeat is the last eighth of the file's first 6/8 bar (ticks 1200..1440); three full bars follow
    _check_accompanied(melody, out, voices=1, bar_ticks=1440, first_bar=1440, bars=3)
    assert {m.tempo for t in mido.MidiFile(str(out)).tracks for m in t if m.type == "set_tempo"} == {mido.bpm2tempo(132)}
    # the same seed gives the same accompaniment
    again = tmp_path / "again.mid"
    assert _accompany(str(melody), "-o", str(again), "--model", str(toy_bundle), "--voices", "1", "--seed", "3").returncode == 0
    assert [absolute_notes(t) for t in mido.MidiFile(str(again)).tracks] == [absolute_notes(t) for t in mido.MidiFile(str(out)).tracks]


def test_quantised_three_four_melody_without_upbeat(tmp_path, toy_bundle):
    tune = [(i, 1, p) for i, p in enumerate([67, 69, 71, 74, 74, 74, 71, 69, 67, 72, 72, 71])] + [(12, 3, 67)]
    melody = write_melody(tmp_path / "waltz.mid", tune, meter=(3, 4), bpm=96, key="G")
    out = tmp_path / "waltz-accompanied.mid"
    done = _accompany(str(melody), "-o", str(out), "--model", str(toy_bundle), "--voices", "1", "--seed", "5",
                      "--prompt", "Baroque|Bach, Johann Sebastian|Choral")
    assert done.returncode == 0, done.stderr
    assert "key +1 fifths major" in done.stdout and "estimated" not in done.stdout
    _check_accompanied(melody, out, voices=1, bar_ticks=1440, first_bar=0, bars=5)


def test_an_essen_folk_tune_in_three_four(tmp_path, toy_bundle):
    """A real tune from music21's corpus, written to MIDI by music21 (no DAW grid: upbeat at 0)."""
    from music21 import corpus

    tune = corpus.parse("essenFolksong/altdeu10", number=27)     # "Zwei Koenigskinder", 3/4, upbeat
    melody = tmp_path / "koenigskinder.mid"
    tune.write("midi", fp=str(melody))
    measures = list(tune.parts[0].getElementsByClass("Measure"))
    upbeat = measures[0].duration.quarterLength
    out = tmp_path / "out.mid"
    done = _accompany(str(melody), "-o", str(out), "--model", str(toy_bundle), "--voices", "1",
                      "--pickup", str(upbeat), "--seed", "1")
    assert done.returncode == 0, done.stderr
    tpb = mido.MidiFile(str(melody)).ticks_per_beat
    full_bars = len(measures) - 1
    _check_accompanied(melody, out, voices=1, bar_ticks=3 * tpb, first_bar=round(upbeat * tpb), bars=full_bars)


@pytest.mark.parametrize("args, message", [
    (["--prompt", "Baroque only"], "three fields"),
    (["--voices", "0"], "voices must be between 1 and 8"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    melody = write_melody(tmp_path / "m.mid", JIG, meter=(6, 8))
    done = _accompany(str(melody), "-o", str(tmp_path / "o.mid"), *args)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_file_that_is_not_midi_is_a_one_line_error(tmp_path):
    bad = tmp_path / "melody.mid"
    bad.write_text("this is not a MIDI file")
    done = _accompany(str(bad), "-o", str(tmp_path / "o.mid"))
    assert done.returncode == 1
    assert "cannot read this MIDI file" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o.mid").exists()


DEFAULT_MODEL = ROOT / "models" / "default"


@pytest.mark.skipif(not (DEFAULT_MODEL / "config.json").is_file(), reason="models/default has no bundle yet")
def test_the_embedded_model_on_a_chorale_melody_played_into_a_daw(tmp_path):
    """What a user gets out of the box: no --model, the soprano of BWV 66.6 played with human
    timing and no key signature, three voices under it, on the melody's bars."""
    from music21 import corpus

    chorale = corpus.parse("bach/bwv66.6")
    soprano = chorale.parts[0].stripTies()
    tune = [(float(n.getOffsetInHierarchy(soprano)) + 3, float(n.quarterLength), n.pitch.midi) for n in soprano.recurse().notes]
    melody = write_melody(tmp_path / "soprano.mid", tune, bpm=72, jitter=25, seed=1)
    out = tmp_path / "chorale.mid"
    done = _accompany(str(melody), "-o", str(out), "--seed", "1")
    assert done.returncode == 0, done.stderr
    _check_accompanied(melody, out, voices=3, bar_ticks=1920, first_bar=1920, bars=9)
