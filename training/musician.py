"""What a musician hears in generated pieces, measured on the ABC text and on the notes.

- voices_sounding: per bar, which declared voices hold a note (a voice missing from a line, or
  holding only rests, is silent);
- voice_pitches: written MIDI pitches per ABC voice (the note's own accidental, not the key's:
  within a semitone, enough for register);
- key_agreement: the key music21 finds in the notes (Krumhansl-Schmuckler) has the key
  signature the piece declares;
- part_names: the `nm=` names of the header's voices;
- piece_features + nearest_centroid_loo: a per-piece statistics vector and the leave-one-out
  nearest-centroid classifier that asks whether the prompt can be told from the music.
"""
from __future__ import annotations

import re
import statistics
from collections import Counter
from fractions import Fraction

import numpy as np

from notabridge.abc.patching import split_piece, strip_line_prefix
from notabridge.abc.syntax import VOICE_MARK, Scanner, pitch_number

_NAME = re.compile(r'\bnm="([^"]*)"')
_NOTE_LETTER = re.compile(r"[A-Ga-g]")


def declared_voices(header: list[str]) -> list[str]:
    """Voice ids of the header's V: lines, in order ("1", "2", ...)."""
    return [line[2:].split()[0] for line in header if line.startswith("V:") and line[2:].split()]


def part_names(header: list[str]) -> list[str]:
    """The `nm="..."` names of the header's voices (voices without a name are left out)."""
    return [m.group(1) for line in header if line.startswith("V:") for m in [_NAME.search(line)] if m]


def _segments(line: str) -> dict[str, str]:
    """voice id -> its text in one interleaved body line."""
    line = strip_line_prefix(line)
    marks = list(VOICE_MARK.finditer(line))
    return {m.group(1): line[m.end():(marks[i + 1].start() if i + 1 < len(marks) else len(line))]
            for i, m in enumerate(marks)}


def _has_note(text: str) -> bool:
    # inline fields ([K:..], [M:..]), annotations and decorations hold letters that are no notes
    text = re.sub(r'\[[A-Za-z]:[^\]]*\]|"[^"]*"|![^!]*!', "", text)
    return bool(_NOTE_LETTER.search(text))


def voices_sounding(header: list[str], body: list[str]) -> list[dict[str, bool]]:
    """One dict per body line: declared voice -> whether it holds a note in that bar."""
    voices = declared_voices(header)
    out = []
    for line in body:
        segs = _segments(line)
        out.append({v: v in segs and _has_note(segs[v]) for v in voices})
    return out


def voice_pitches(body: list[str]) -> dict[str, list[int]]:
    """voice id -> the written MIDI pitches of its notes in these body lines."""
    out: dict[str, list[int]] = {}
    for line in body:
        for voice, text in _segments(line).items():
            try:
                scanner = Scanner(keep_events=True).feed(text)
            except Exception:  # noqa: BLE001 - a bar the scanner cannot read adds no pitches
                continue
            out.setdefault(voice, []).extend(
                pitch_number(a, letter, marks) for e in scanner.events or [] for a, letter, marks, _ in e.notes)
    return out


def median_register(body: list[str]) -> dict[str, float]:
    """voice id -> median written pitch (voices with notes only)."""
    return {v: float(statistics.median(p)) for v, p in voice_pitches(body).items() if p}


def key_agreement(abc_text: str) -> bool | None:
    """True when the key music21 analyses from the notes has the piece's key signature (same
    number of sharps/flats: G major and E minor both agree with one sharp); None without notes."""
    from music21 import analysis, note, stream

    from notabridge.notation.abc_import import abc_to_excerpt

    excerpt = abc_to_excerpt(abc_text)
    if not excerpt["measures"]:
        return None
    written = int(excerpt["measures"][0].get("key", 0))
    s = stream.Stream()
    for measure in excerpt["measures"]:
        for staff in measure["staves"]:
            for voice in staff["voices"]:
                for event in voice["events"]:
                    if event["type"] != "chord":
                        continue
                    for n in event.get("notes", []):
                        s.append(note.Note(n["pitch"], quarterLength=float(Fraction(event["duration"]) * 4)))
    if not len(s):
        return None
    found = analysis.discrete.KrumhanslSchmuckler().getSolution(s)
    return int(found.sharps) == written


# ---------------------------------------------------------------- prompt classifier

DURATION_BINS = ["1/16", "1/8", "3/16", "1/4", "3/8", "1/2", "3/4", "1"]


def piece_features(abc_text: str) -> np.ndarray:
    """Statistics of one piece: key-relative pitch classes (12), melodic intervals (25),
    durations (9), then voices declared, mean pitch, notes per voice-bar, share of rests,
    share of voice-bars sounding (5)."""
    from notabridge.notation.abc_import import abc_to_excerpt

    excerpt = abc_to_excerpt(abc_text)
    pcs, intervals, durations = Counter(), Counter(), Counter()
    pitches, rests, events, voice_bars = [], 0, 0, 0
    last: dict = {}
    for measure in excerpt["measures"]:
        tonic = (7 * int(measure.get("key", 0))) % 12
        for staff in measure["staves"]:
            for voice in staff["voices"]:
                voice_bars += 1
                for event in voice["events"]:
                    events += 1
                    d = str(Fraction(event["duration"]))
                    durations[d if d in DURATION_BINS else "other"] += 1
                    if event["type"] != "chord" or not event.get("notes"):
                        rests += 1
                        continue
                    top = max(n["pitch"] for n in event["notes"])
                    for n in event["notes"]:
                        pcs[(n["pitch"] - tonic) % 12] += 1
                        pitches.append(n["pitch"])
                    key = (staff["staff"], voice["voice"])
                    if key in last:
                        intervals[max(-12, min(12, top - last[key]))] += 1
                    last[key] = top

    def hist(counter: Counter, bins: list) -> list[float]:
        total = sum(counter.get(b, 0) for b in bins)
        return [counter.get(b, 0) / total if total else 0.0 for b in bins]

    piece = split_piece(abc_text)
    sounding = voices_sounding(piece.header, piece.body)
    heard = np.mean([np.mean(list(b.values())) for b in sounding if b]) if sounding else 0.0
    extra = [len(declared_voices(piece.header)) / 4, (np.mean(pitches) - 60) / 12 if pitches else 0.0,
             (events - rests) / max(1, voice_bars) / 8, rests / max(1, events), float(heard)]
    return np.asarray(hist(pcs, list(range(12))) + hist(intervals, list(range(-12, 13)))
                      + hist(durations, DURATION_BINS + ["other"]) + extra, dtype=np.float64)


def nearest_centroid_loo(features: np.ndarray, labels: list) -> tuple[float, float]:
    """Leave-one-out nearest-centroid accuracy over standardised features, and chance (the share
    of the most common label). Each piece is classified by the centroids of all other pieces."""
    x = np.asarray(features, dtype=np.float64)
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    classes = sorted(set(labels), key=str)
    y = np.asarray([classes.index(label) for label in labels])
    sums = np.stack([x[y == c].sum(axis=0) for c in range(len(classes))])
    counts = np.bincount(y, minlength=len(classes)).astype(np.float64)
    correct = 0
    for i in range(len(x)):
        s, n = sums.copy(), counts.copy()
        s[y[i]] -= x[i]
        n[y[i]] -= 1
        usable = n > 0
        centroids = s[usable] / n[usable, None]
        dist = ((centroids - x[i]) ** 2).sum(axis=1)
        correct += int(np.flatnonzero(usable)[int(np.argmin(dist))] == y[i])
    chance = counts.max() / counts.sum()
    return correct / len(x), float(chance)
