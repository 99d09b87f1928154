"""What the round-trip checks compare: onsets, durations and spelled pitches, per voice."""
from __future__ import annotations

from .excerpt_base import note_signature


def excerpt_differences(expected: dict, actual: dict, limit: int = 5) -> list[str]:
    """Human-readable differences in (onset, duration, pitch + tpc) per (measure, staff, voice)."""
    a, b = note_signature(expected), note_signature(actual)
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            measure, staff, voice = key
            want, got = a.get(key, []), b.get(key, [])
            first = next((i for i, (x, y) in enumerate(zip(want, got)) if x != y), min(len(want), len(got)))
            out.append(f"measure {measure} staff {staff} voice {voice}: event {first}: "
                       f"expected {want[first] if first < len(want) else None}, got {got[first] if first < len(got) else None}")
            if len(out) >= limit:
                break
    return out
