"""A DAW for the live accompanist's tests and benchmark: real melodies played with MIDI clock.

`performance` turns a melody (quarter-note onsets, lengths, MIDI pitches) into what a DAW sends
while it plays it: Start, 24 clock pulses per quarter note, the notes, Stop. The melody is laid
on the DAW's bars as a user would put it: an upbeat at the end of the first bar.
`VirtualClock` lets a test play that on a clock of its own, so timing assertions do not depend
on how loaded the machine is.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import mido

# (onset in quarters, length in quarters, MIDI pitch)
Note = tuple[Fraction, Fraction, int]


def chorale_soprano(name: str = "bach/bwv66.6") -> tuple[list[Note], Fraction, tuple[int, int], str]:
    """The soprano of a chorale from music21's corpus: notes, upbeat length, meter, key."""
    return _part_notes(name, part=0)


def folk_tune() -> tuple[list[Note], Fraction, tuple[int, int], str]:
    """"Zwei Koenigskinder" from the Essen collection in music21's corpus: 3/4 with an upbeat."""
    return _part_notes("essenFolksong/altdeu10", number=27)


def _part_notes(name: str, part: int = 0, number: int | None = None):
    from music21 import corpus

    score = corpus.parse(name, number=number) if number is not None else corpus.parse(name)
    line = score.parts[part].stripTies() if hasattr(score, "parts") and len(score.parts) else score.stripTies()
    measures = list(line.getElementsByClass("Measure"))
    meter = line.recurse().getElementsByClass("TimeSignature")[0]
    bar = Fraction(meter.barDuration.quarterLength)
    upbeat = Fraction(measures[0].duration.quarterLength) if measures[0].duration.quarterLength < bar else Fraction(0)
    notes = [(Fraction(n.getOffsetInHierarchy(line)), Fraction(n.quarterLength), n.pitch.midi)
             for n in line.recurse().notes if n.isNote]
    key = score.analyze("key")
    name = key.tonic.name.replace("-", "b") + ("m" if key.mode == "minor" else "")
    return notes, upbeat, (meter.numerator, meter.denominator), name


def played_bars(notes: list[Note], upbeat: Fraction, meter: tuple[int, int]):
    """The melody cut into the DAW's bars (the upbeat alone in the first): (BarNotes, length)."""
    from notabridge.notation.live_bars import BarNote

    bar = Fraction(4 * meter[0], meter[1])
    offset = bar - upbeat if upbeat else Fraction(0)
    shifted = [(o + offset, o + offset + length, p) for o, length, p in notes]
    count = int(-(-max(e for _, e, _ in shifted) // bar))
    for b in range(count):
        start, end = b * bar, (b + 1) * bar
        bar_notes = [BarNote(max(Fraction(0), a - start), min(bar, z - start), p, tie_in=a < start, tie_out=z > end)
                     for a, z, p in shifted if a < end and z > start]
        length = bar
        if b == 0 and upbeat:
            for n in bar_notes:
                n.start, n.end = n.start - (bar - upbeat), n.end - (bar - upbeat)
            length = upbeat
        yield bar_notes, length


@dataclass
class Performance:
    events: list[tuple[float, Any]]     # (seconds from Start, message), Start first, Stop last
    bar_quarters: Fraction
    offset: Fraction                    # where the melody's first onset lands, in quarters from Start
    seconds_per_pulse: float
    pulses: int


def performance(notes: list[Note], upbeat: Fraction, meter: tuple[int, int], bpm: float,
                end_bars: int = 2) -> Performance:
    """What a DAW sends while it plays `notes` from bar 1: the upbeat ends bar 1, the melody's
    first full bar is bar 2; `end_bars` bars of clock after the last note, then Stop."""
    bar = Fraction(4 * meter[0], meter[1])
    offset = bar - upbeat if upbeat else Fraction(0)
    quarter = 60.0 / bpm
    pulse = quarter / 24
    events: list[tuple[float, Any]] = []
    last = Fraction(0)
    for onset, length, pitch in notes:
        start = onset + offset
        events.append((float(start) * quarter, mido.Message("note_on", note=pitch, velocity=90)))
        events.append((float(start + length) * quarter - pulse / 2, mido.Message("note_off", note=pitch)))
        last = max(last, start + length)
    bars = int(-(-last // bar)) + end_bars
    pulses = int(bars * bar * 24)
    events += [(i * pulse, mido.Message("clock")) for i in range(pulses)]
    # at one instant a DAW sends the clock pulse first, then the notes due on it
    order = {"note_off": 0, "clock": 1, "note_on": 2}
    events.sort(key=lambda e: (round(e[0], 9), order[e[1].type]))
    return Performance([(0.0, mido.Message("start"))] + events + [(pulses * pulse, mido.Message("stop"))],
                       bar, offset, pulse, pulses)


class VirtualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def play_virtual(perf: Performance, send: Callable[[Any], None], clock: VirtualClock,
                 before: Callable[[int, Any], None] | None = None, tempo_change: tuple[int, float] | None = None
                 ) -> list[float]:
    """Send the performance on the virtual clock; `before(pulse, message)` runs before each
    message (a patient DAW waits there for the door; `pulse`: pulses sent so far). With
    `tempo_change` (pulse, factor) every interval from that pulse on is `factor` times as long.
    Returns each pulse's time."""
    times, pulse = [], 0
    start, last_at = clock.now, 0.0
    change_at = perf.events[-1][0] + 1 if tempo_change is None else tempo_change[0] * perf.seconds_per_pulse
    for at, message in perf.events:
        if before is not None:   # before the clock moves on: the door's work takes no virtual time
            before(pulse, message)
        stretched = at if at <= change_at else change_at + (at - change_at) * tempo_change[1]
        clock.now = max(clock.now, start + stretched)
        if message.type == "clock":
            times.append(clock.now)
            pulse += 1
        send(message)
    return times


def play_real_time(perf: Performance, send: Callable[[Any], None]) -> list[float]:
    """Send the performance in real time, as a DAW's MIDI thread would; returns pulse times."""
    start = time.monotonic() + 0.05
    times = []
    for at, message in perf.events:
        delay = start + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if message.type == "clock":
            times.append(time.monotonic())
        send(message)
    return times


def accompaniment_notes(received: list[tuple[float, Any]]) -> list[tuple[float, int, int, float | None]]:
    """(on time, channel, pitch, off time) of every note the door played."""
    out, open_ = [], {}
    for t, m in received:
        key = (m.channel, m.note)
        if m.type == "note_on" and m.velocity:
            open_[key] = len(out)
            out.append([t, m.channel, m.note, None])
        elif key in open_:
            out[open_.pop(key)][3] = t
    return [tuple(n) for n in out]


class Gate:
    """Holds a live session's next bar until the test opens it (a bar that cannot be ready in time)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.opened = threading.Event()
        self.entered = threading.Event()

    def write_bar(self, *args, **kwargs):
        self.entered.set()
        self.opened.wait(30)
        return self.session.write_bar(*args, **kwargs)
