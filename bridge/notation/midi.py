"""MIDI <-> excerpt JSON through music21 (quantised to the notation grid, tempo and meter kept).

A file's notes are snapped first as a DAW clip's are (notabridge.notation.midi_clip.quantise_notes:
sixteenths, eighth triplets in the beats played clearly in triplets), per track and channel, so
that `convert`, `continue` on a .mid file and a melody sent from a DAW read time the same way;
music21 then builds the score from notes already on its grid."""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

from .errors import NotationError
from .excerpt_base import add_warning
from .midi_clip import STRAIGHT_DIVISIONS, TRIPLET_DIVISIONS, quantise_notes, read_midi, track_notes
from .music21_bridge import excerpt_from_score, excerpt_to_score

# the grid of midi_clip (sixteenths and eighth-note triplets), as music21's quantiser names it: the
# notes are on it already, so music21 only turns ticks into quarter lengths
QUANTIZE_DIVISORS = (STRAIGHT_DIVISIONS, TRIPLET_DIVISIONS)


def excerpt_from_midi(source: Any) -> dict:
    """A .mid path or MIDI bytes -> excerpt JSON (pitches spelled by music21, sharps by default)."""
    from music21 import midi as m21midi

    try:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        else:
            path = Path(os.fspath(source))
            if not path.is_file():
                raise NotationError(f"no such file: {path}")
            data = path.read_bytes()
        if data[:4] != b"MThd":
            raise NotationError("not a standard MIDI file (no MThd header)")
        with contextlib.suppress(NotationError):   # what mido cannot read goes to music21 as it is
            data = on_grid(data)
        midi_file = m21midi.MidiFile()
        midi_file.readstr(data)
        score = m21midi.translate.midiFileToStream(midi_file, quantizePost=True, quarterLengthDivisors=QUANTIZE_DIVISORS)
    except NotationError:
        raise
    except Exception as exc:
        raise NotationError(f"cannot read this MIDI file: {exc}") from exc
    if not score.recurse().notes:
        raise NotationError("the MIDI file has no notes")
    _pad_parts_to_equal_length(score)
    excerpt = excerpt_from_score(score)
    add_warning(excerpt, "MIDI input: note times were quantised to sixteenths and eighth-note triplets; spelling was guessed")
    return excerpt


def on_grid(data: bytes) -> bytes:
    """The MIDI file with every note snapped to the grid (per track and channel); everything
    else (tempo, meter, key, programs) stays at its tick."""
    import mido

    source = read_midi(data)
    out = mido.MidiFile(type=source.type, ticks_per_beat=source.ticks_per_beat)
    for track in source.tracks:
        notes, others = track_notes(track)
        timed = [(tick, 0, msg) for tick, msg in others if msg.type != "end_of_track"]
        last = max((tick for tick, msg in others if msg.type == "end_of_track"), default=0)
        for channel, found in notes.items():
            for n in quantise_notes(found, source.ticks_per_beat):
                timed.append((n.end, 1, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0)))
                timed.append((n.start, 2, mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity)))
        timed.sort(key=lambda item: (item[0], item[1]))   # at one tick: controls, then ends, then starts
        rebuilt, now = mido.MidiTrack(), 0
        for tick, _, msg in timed:
            rebuilt.append(msg.copy(time=tick - now))
            now = tick
        rebuilt.append(mido.MetaMessage("end_of_track", time=max(0, last - now)))
        out.tracks.append(rebuilt)
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue()


def _pad_parts_to_equal_length(score) -> None:
    """MIDI keeps no trailing rests, so a part that ends in silence comes back shorter than the
    others: give it whole-measure rests up to the longest part's last measure."""
    from music21 import note, stream

    parts = list(score.parts)
    counts = [len(p.getElementsByClass(stream.Measure)) for p in parts]
    longest = max(counts, default=0)
    for part, count in zip(parts, counts):
        measures = list(part.getElementsByClass(stream.Measure))
        if not measures or count == longest:
            continue
        last = measures[-1]
        length = last.barDuration.quarterLength
        offset = last.offset + length
        for number in range(last.number + 1, last.number + 1 + longest - count):
            filler = stream.Measure(number=number)
            filler.append(note.Rest(quarterLength=length))
            part.insert(offset, filler)
            offset += length


def excerpt_to_midi(excerpt: dict) -> bytes:
    """Excerpt JSON -> Standard MIDI File bytes (one track per part, tempo and meter kept)."""
    from music21 import midi as m21midi

    score = excerpt_to_score(excerpt)
    try:
        return m21midi.translate.streamToMidiFile(score).writestr()
    except Exception as exc:
        raise NotationError(f"music21 cannot write MIDI for this excerpt: {exc}") from exc
