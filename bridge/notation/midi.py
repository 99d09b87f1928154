"""MIDI <-> excerpt JSON through music21 (quantised to the notation grid, tempo and meter kept)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import NotationError
from .excerpt_base import add_warning
from .music21_bridge import excerpt_from_score, excerpt_to_score

# music21 quantises note starts and ends to these subdivisions of a quarter note: sixteenths and
# eighth-note triplets (and their multiples), the grid NotaGen's ABC (L:1/8) writes comfortably.
QUANTIZE_DIVISORS = (4, 3)


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
