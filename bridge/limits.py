"""The one table of limits: every number a client, a peer or a file may send is bounded here.

BOUNDS holds the allowed range of each numeric field of a job, of the shared settings and of an
excerpt (time signatures, durations, tuplets, pitches, staves, voices ...); LIMITS holds the
sizes and counts the front doors enforce (bodies, OSC packets, replies, logs) and the job time
budget. Settings, job validation, the excerpt checks, the OSC parser, the sampler's own check,
the CLI and the panel all read from here, so a limit is changed in one place.
"""
from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class Bound:
    """An inclusive range of a number; `integer` fields refuse fractions."""

    low: int | float | Fraction
    high: int | float | Fraction
    integer: bool = True

    def problem(self, value: Any) -> str | None:
        """None when `value` is a finite number in range, else what is wrong (without the field name)."""
        if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
            return f"must be a number from {self.low} to {self.high}, not {_short(value)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number from {self.low} to {self.high}, not {value}"
        if isinstance(value, int) and value.bit_length() > 64:   # compared without converting
            return f"must be from {self.low} to {self.high}; {_short(value)} is far out of range"
        if self.integer and isinstance(value, float) and not value.is_integer():
            return f"must be a whole number from {self.low} to {self.high}, not {value!r}"
        if not self.low <= value <= self.high:
            return f"must be from {self.low} to {self.high}, not {_short(value)}"
        return None


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40
_REPR.maxlevel = 2


def short_repr(value: Any) -> str:
    """A value as error messages quote it: short, whatever its size or depth."""
    if isinstance(value, int) and value.bit_length() > 64:   # never format a 400-digit integer in full
        return f"a {len(str(value)) if value.bit_length() < 10_000 else 'very long'}-digit integer"
    return _REPR.repr(value)


_short = short_repr


BOUNDS: dict[str, Bound] = {
    # generation (shared settings, job overrides, CLI flags)
    "bars": Bound(1, 64),                    # new bars per job
    "variants": Bound(1, 8),
    "top_k": Bound(0, 128),                  # 0: no limit
    "top_p": Bound(0.01, 1.0, integer=False),
    "temperature": Bound(0.05, 5.0, integer=False),
    "seed": Bound(0, 2**31 - 1),
    "key": Bound(-7, 7),                     # fifths
    "voices": Bound(1, 8),                   # accompaniment voices written under a MIDI melody
    # excerpt JSON v1 (see docs/excerpt.md)
    "measures": Bound(1, 512),               # measures in one excerpt
    "measure_index": Bound(0, 100_000),      # index, selection start/end
    "measure_number": Bound(-100_000, 100_000),
    "parts": Bound(1, 64),
    "staves": Bound(1, 64),                  # staves in an excerpt; staff indices are below this
    "staff_index": Bound(0, 63),
    "voice": Bound(0, 3),                    # MuseScore's four voices per staff
    "events_per_voice": Bound(0, 512),       # events of one voice in one measure
    "events": Bound(0, 50_000),              # events in the whole excerpt
    "notes_per_chord": Bound(1, 32),
    "pitch": Bound(0, 127),                  # MIDI
    "tpc": Bound(-1, 33),                    # MuseScore's tonal pitch class
    "midi_program": Bound(0, 127),
    "tempo": Bound(1, 1000, integer=False),  # quarter notes per minute
    "time_numerator": Bound(1, 64),          # a time signature's beats (additive ones summed)
    "time_denominator": Bound(1, 128),       # and its beat unit (a power of two)
    "measure_length": Bound(Fraction(1, 128), Fraction(16), integer=False),   # whole notes
    "duration_denominator": Bound(1, 8192),  # an event's length in whole notes, reduced
    "tuplet_ratio": Bound(1, 64),            # tuplet actual and normal (real scores hold 35:32 runs)
    "dots": Bound(0, 2),
}

LIMITS: dict[str, int | float] = {
    # the front doors
    "max_body_bytes": 2_000_000,             # HTTP body and OSC-over-TCP frame
    "max_udp_reply_bytes": 8000,             # no UDP datagram we send is larger
    "max_queued_jobs": 16,
    "max_json_depth": 40,                    # nesting of any JSON a client sends
    "max_fraction_chars": 12,                # "1234/5678": fractions and time signatures as text
    "max_text_chars": 200,                   # tag, prompt fields, part names ...
    "osc_bundle_depth": 4,
    "osc_messages_per_packet": 64,
    "osc_args_per_message": 64,
    "osc_array_depth": 4,
    "osc_address_chars": 256,
    "osc_tcp_connections": 64,               # open OSC TCP connections at once
    "replies_per_second_per_peer": 200,      # answers to one peer's requests; beyond, dropped
    "reply_burst_per_peer": 400,
    "log_lines_per_second": 5,               # per kind of log line; the rest is counted, not written
    "log_burst": 5,
    "log_file_bytes": 5_000_000,             # --log-file rotates at this size ...
    "log_file_backups": 3,                   # ... keeping this many old files
    # a running job is ended (status error) once it runs past
    # job_budget_base_s + job_budget_per_bar_s x bars x variants + job_budget_per_event_s x excerpt events
    "job_budget_base_s": 120,
    "job_budget_per_bar_s": 60,
    "job_budget_per_event_s": 0.05,
}


def bound_problem(name: str, value: Any, field: str | None = None) -> str | None:
    """"<field> must be ..." when `value` is outside BOUNDS[name], else None."""
    problem = BOUNDS[name].problem(value)
    return None if problem is None else f"{field or name} {problem}"
