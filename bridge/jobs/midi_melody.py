"""Accompany jobs that start from MIDI: a melody as a DAW sends it (a clip's Standard MIDI File:
bars from the file's start, human timing, maybe no key signature) comes back as that file plus
one track per accompaniment voice.

The daemon's doors (HTTP/OSC `{"mode": "accompany", "midi": ...}`, its MIDI ports) and
`notabridge accompany` all build the same ComposeJob with `midi` set; compose reads the melody
here (notabridge.notation.midi_clip: quantised, key and meter, pickup), runs the usual accompany
job on the excerpt made of it, and writes each variant back into the file. So a client sends
MIDI and gets MIDI: it needs no notation library of its own.
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from notabridge.errors import JobError
from notabridge.limits import BOUNDS
from notabridge.notation.errors import NotationError

if TYPE_CHECKING:
    from notabridge.jobs.compose import ComposeJob
    from notabridge.notation.midi_clip import MelodyClip


@dataclass
class MidiMelody:
    """The melody as sent (mido.MidiFile) and as read (quantised clip), and the staves to write."""
    midi: Any
    clip: MelodyClip
    staves: list[int]

    def info(self) -> dict:
        """How the melody was read, and where the accompaniment lies in the file (ticks): what a
        client shows its user and needs to place the result on its own timeline."""
        clip = self.clip
        return {"bars": clip.measures, "time": clip.time, "key_fifths": clip.key_fifths, "key_mode": clip.key_mode,
                "key_estimated": clip.key_estimated, "tempo_bpm": clip.tempo_bpm, "pickup": bool(clip.pickup),
                "ticks_per_beat": clip.ticks_per_beat, "start_tick": clip.start_tick, "end_tick": clip.end_tick,
                "tracks": len(self.midi.tracks)}

    def accompanied(self, excerpt: dict) -> bytes:
        """The melody's file with the accompaniment of a result excerpt as new tracks."""
        from notabridge.notation import midi_clip

        out = io.BytesIO()
        midi_clip.add_accompaniment(self.midi, self.clip, excerpt, self.staves).save(file=out)
        return out.getvalue()


def read_melody(job: ComposeJob) -> tuple[ComposeJob, MidiMelody]:
    """The accompany job on the excerpt made of `job.midi` (melody on staff 0, `job.voices`
    staves under it to write), and the melody to write the variants back into."""
    from notabridge.notation import midi_clip

    assert job.midi is not None
    if job.mode != "accompany":
        raise JobError(f"a MIDI melody is accompanied (mode accompany), not used for {job.mode}")
    try:
        midi = midi_clip.read_midi(job.midi)
        clip = midi_clip.clip_from_midi(midi, job.pickup)
        if clip.measures > BOUNDS["measures"].high:   # before music21 lays out every bar
            raise JobError(f"the melody has {clip.measures} bars; send at most {BOUNDS['measures'].high}")
        excerpt = midi_clip.accompaniment_excerpt(clip, job.voices)
    except NotationError as exc:
        raise JobError(str(exc)) from None
    staves = list(range(1, job.voices + 1))
    return (dataclasses.replace(job, excerpt=excerpt, staves=staves, midi=None, excerpt_valid=False),
            MidiMelody(midi, clip, staves))
