"""The DAW's MIDI clock as the live door reads it: 24 pulses per quarter note, Start, Continue,
Stop and Song Position Pointer.

Positions are counted in clock ticks from the song's start (tick 0). After Start (or Continue)
the next clock pulse marks the position the transport is at: 0 after Start, the song position
(in sixteenths, 6 ticks each) after Continue. Between pulses a position is interpolated from
the tempo of the recent pulses, so a note played between two pulses gets a fractional tick.
"""
from __future__ import annotations

from collections import deque

CLOCKS_PER_QUARTER = 24
TICKS_PER_SIXTEENTH = 6
DEFAULT_SECONDS_PER_TICK = 60.0 / 120.0 / CLOCKS_PER_QUARTER
_TEMPO_WINDOW = CLOCKS_PER_QUARTER   # pulses the tempo is measured over (one quarter note)


class LiveClock:
    def __init__(self, default_bpm: float = 120.0) -> None:
        self.default_seconds = 60.0 / default_bpm / CLOCKS_PER_QUARTER
        self.running = False
        self.next_tick = 0            # the position the next pulse marks
        self.tick: int | None = None  # the position of the last pulse (None: none since start)
        self._times: deque[float] = deque(maxlen=_TEMPO_WINDOW + 1)
        self._last_time: float | None = None

    # ---- transport --------------------------------------------------------------------------
    def start(self) -> None:
        self.song_position(0)
        self.running = True

    def resume(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def song_position(self, sixteenths: int) -> None:
        self.next_tick = max(0, int(sixteenths)) * TICKS_PER_SIXTEENTH
        self.tick = None
        self._times.clear()
        self._last_time = None

    # ---- pulses -----------------------------------------------------------------------------
    def pulse(self, now: float) -> int | None:
        """A clock pulse at `now`: its tick, or None while the transport is stopped."""
        if not self.running:
            return None
        self.tick = self.next_tick
        self.next_tick += 1
        self._times.append(now)
        self._last_time = now
        return self.tick

    @property
    def seconds_per_tick(self) -> float:
        if len(self._times) < 2:
            return self.default_seconds
        return (self._times[-1] - self._times[0]) / (len(self._times) - 1) or self.default_seconds

    @property
    def bpm(self) -> float:
        return 60.0 / (self.seconds_per_tick * CLOCKS_PER_QUARTER)

    def position(self, now: float) -> float:
        """The position at `now` in ticks: the last pulse plus the time since it, at most one tick on."""
        if self.tick is None or self._last_time is None:
            return float(self.next_tick)
        return self.tick + min(1.0, max(0.0, (now - self._last_time) / self.seconds_per_tick))

    def seconds_until(self, tick: int, now: float) -> float:
        return (tick - self.position(now)) * self.seconds_per_tick
