"""What one live take holds (the melody as played, what the door sent, the bars as the model
reads them) and how it is saved at Stop: a Standard MIDI File and MusicXML.

Positions are clock ticks (24 per quarter) from the song's start. The melody is quantised the
way a clip file is (notabridge.notation.midi_clip.quantise_line, on a 480-per-quarter grid), each
time a bar is read, so a bar read early (before its end) and read again later agree on the
notes they both hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from notabridge.daemon.live_clock import CLOCKS_PER_QUARTER

FINE = 20                      # fine ticks per clock tick: 480 per quarter
FINE_PER_QUARTER = FINE * CLOCKS_PER_QUARTER


@dataclass
class HeldNote:
    start: float               # clock ticks
    pitch: int
    velocity: int
    end: float | None = None   # None: still held


@dataclass
class Take:
    start_tick: int                        # where the transport started
    bar_ticks: int
    melody: list[HeldNote] = field(default_factory=list)
    sent: list[tuple[int, Any]] = field(default_factory=list)   # (tick, message) the door played
    lines: dict[int, str] = field(default_factory=dict)          # bar -> the bar as the model reads it
    first_bar: int | None = None           # the first bar with a note (bars before it are not read)
    pickup: Fraction = Fraction(0)         # quarters of an upbeat in first_bar (0: it starts on its bar line)
    pulses: int = 0
    first_pulse: float | None = None
    last_pulse: float | None = None
    # fixed when the first bar is read (the live settings may change; a take keeps its own)
    header: str | None = None               # the ABC header the model reads the take with
    meter: str = "4/4"
    voices: int = 3
    key: tuple[int, str] = (0, "major")     # fifths, mode
    accompaniment: dict[int, str] = field(default_factory=dict)   # bar -> its accompaniment voices as ABC

    def snapshot(self) -> "Take":
        """A copy to read bars from outside the door's lock (the notes as they are now)."""
        return Take(self.start_tick, self.bar_ticks, [HeldNote(n.start, n.pitch, n.velocity, n.end) for n in self.melody],
                    first_bar=self.first_bar, pickup=self.pickup, header=self.header, meter=self.meter,
                    voices=self.voices, key=self.key, accompaniment=dict(self.accompaniment))

    # ---- recording --------------------------------------------------------------------------
    def note_on(self, position: float, pitch: int, velocity: int) -> None:
        self.note_off(position, pitch)   # a repeated note-on ends the held one
        self.melody.append(HeldNote(position, pitch, velocity))

    def note_off(self, position: float, pitch: int) -> None:
        for note in reversed(self.melody):
            if note.pitch == pitch and note.end is None:
                note.end = max(position, note.start)
                return

    def pulse(self, now: float) -> None:
        self.pulses += 1
        self.first_pulse = now if self.first_pulse is None else self.first_pulse
        self.last_pulse = now

    @property
    def bpm(self) -> float | None:
        if self.pulses < CLOCKS_PER_QUARTER + 1:
            return None
        return 60.0 / ((self.last_pulse - self.first_pulse) / (self.pulses - 1) * CLOCKS_PER_QUARTER)

    # ---- bars -------------------------------------------------------------------------------
    def bar_melody(self, bar: int, until: float) -> list:
        """The quantised melody notes of `bar` (quarters from its bar line) as known at tick
        `until`: a note still held then lasts to the end of the bar (and on, tied, when `until`
        is past the bar's end)."""
        from notabridge.notation.live_bars import BarNote
        from notabridge.notation.midi_clip import ClipNote, quantise_line

        start, end = bar * self.bar_ticks, (bar + 1) * self.bar_ticks
        performed = [ClipNote(round(n.start * FINE), round((n.end if n.end is not None else max(until, end)) * FINE),
                              n.pitch, n.velocity)
                     for n in self.melody if n.start < until and (n.end is None or n.end > start - self.bar_ticks)]
        notes = []
        for q in quantise_line(performed, FINE_PER_QUARTER):
            if q.start < end * FINE and q.end > start * FINE:
                notes.append(BarNote(Fraction(max(q.start, start * FINE) - start * FINE, FINE_PER_QUARTER),
                                     Fraction(min(q.end, end * FINE) - start * FINE, FINE_PER_QUARTER), q.pitch,
                                     tie_in=q.start < start * FINE, tie_out=q.end > end * FINE))
        return notes

    def line(self, bar: int, until: float) -> str:
        """Bar `bar` as the model reads it: the melody as known at tick `until`, then the
        accompaniment that sounded with it. The upbeat bar holds only the upbeat's notes."""
        from notabridge.notation.excerpt_base import time_parts
        from notabridge.notation.live_bars import melody_bar

        notes = self.bar_melody(bar, until)
        length = Fraction(self.bar_ticks, CLOCKS_PER_QUARTER)
        if bar == self.first_bar and self.pickup:
            shift = length - self.pickup
            for n in notes:
                n.start, n.end = max(Fraction(0), n.start - shift), n.end - shift
            notes = [n for n in notes if n.end > 0]
            length = self.pickup
        numerator, denominator = time_parts(self.meter)
        beat = Fraction(3, 2) if denominator == 8 and numerator % 3 == 0 else Fraction(4, denominator)
        melody = melody_bar(notes, length, self.key[0], beat)
        accompaniment = self.accompaniment.get(bar, "")
        if accompaniment and not any(c in "ABCDEFGabcdefg" for c in melody):
            return accompaniment + "\n"   # a resting melody is left out, as training leaves out resting voices
        return f"[V:1]{melody}|{accompaniment}\n"

    def find_first_bar(self, until: float) -> int | None:
        """The first bar with a note, and its upbeat, once a note has started before `until`."""
        if self.first_bar is None:
            from notabridge.notation.midi_clip import ClipNote, quantise_line

            played = [ClipNote(round(n.start * FINE), round((n.end if n.end is not None else until) * FINE) + 1,
                               n.pitch) for n in self.melody if n.start < until]
            if not played:
                return None
            onset = quantise_line(played, FINE_PER_QUARTER)[0].start / FINE
            bar = int(onset // self.bar_ticks)
            self.first_bar = bar
            offset = Fraction(round(onset * FINE) - bar * self.bar_ticks * FINE, FINE_PER_QUARTER)
            self.pickup = Fraction(self.bar_ticks, CLOCKS_PER_QUARTER) - offset if offset else Fraction(0)
        return self.first_bar

    def ordered_lines(self) -> list[str]:
        return [self.lines[bar] for bar in sorted(self.lines)]

    # ---- saving -----------------------------------------------------------------------------
    def save(self, folder: Path, header: str, meter: tuple[int, int], channels: list[int],
             names: list[str]) -> tuple[Path, Path | None, str | None]:
        """`live-<time>.mid` (melody as played + what was sent) and `.musicxml` (the bars as the
        model read them); returns both paths and why MusicXML could not be written (or None)."""
        from notabridge.notation import excerpt_to_musicxml
        from notabridge.notation.live_bars import take_excerpt

        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"live-{datetime.now():%Y%m%d-%H%M%S-%f}"
        midi_path = stem.with_suffix(".mid")
        self.to_midi(meter, channels, names).save(str(midi_path))
        xml_path, problem = stem.with_suffix(".musicxml"), None
        try:
            xml_path.write_bytes(excerpt_to_musicxml(take_excerpt(header, self.ordered_lines())))
        except Exception as exc:   # the MIDI file is kept; the user is told why the score is missing
            xml_path, problem = None, f"{type(exc).__name__}: {exc}"
        return midi_path, xml_path, problem

    def to_midi(self, meter: tuple[int, int], channels: list[int], names: list[str]) -> Any:
        import mido

        midi = mido.MidiFile(ticks_per_beat=FINE_PER_QUARTER, type=1)
        conductor = mido.MidiTrack()
        conductor.append(mido.MetaMessage("track_name", name="Live take", time=0))
        conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.bpm or 120.0), time=0))
        conductor.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1], time=0))
        midi.tracks.append(conductor)
        last = max([self.start_tick] + [n.end or n.start for n in self.melody] + [t for t, _ in self.sent])
        melody = [(n.start, mido.Message("note_on", note=n.pitch, velocity=n.velocity)) for n in self.melody]
        melody += [(n.end if n.end is not None else last, mido.Message("note_off", note=n.pitch)) for n in self.melody]
        midi.tracks.append(self._track("Melody", melody))
        for channel, name in zip(channels, names):
            midi.tracks.append(self._track(name, [(t, m) for t, m in self.sent if m.channel == channel]))
        return midi

    def _track(self, name: str, events: list[tuple[float, Any]]) -> Any:
        import mido

        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        now = 0
        # offs before ons at the same tick, so a repeated note is not cut by its own release
        for tick, message in sorted(events, key=lambda e: (e[0], e[1].type == "note_on")):
            at = max(now, round((tick - self.start_tick) * FINE))
            track.append(message.copy(time=at - now))
            now = at
        track.append(mido.MetaMessage("end_of_track", time=0))
        return track
