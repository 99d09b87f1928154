"""Is a variant a copy? The longest run of bars a variant shares with the model's training pieces
and with the rest of the user's own score, per voice, whatever the key.

A bar of one voice becomes a fingerprint: a 32-bit hash of its events (durations, rests, and
each note as semitones from the bar's first note) and a *link*, the interval from the voice's
previous note into the bar's first note. Two runs of bars are the same music, transposed or not,
when the hashes of all their bars match and the links match inside the run (the link into a
run's first bar is free: it belongs to what comes before). Bars with fewer than MIN_ONSETS new
notes (rests, held notes, one long note) say too little to tell a copy from a cliche: they
end a run and are not counted.

An index holds the fingerprints of many pieces (hashes, never the music): a bundle ships one
for its training pieces (`bar_index.npz`, built by `notabridge export --index-corpus`).
No torch here.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import numpy as np

INDEX_FILE = "bar_index.npz"
MIN_ONSETS = 3          # a bar needs this many new notes (chords count once) to count: see docs/styles.md
WARN_BARS = 2           # runs this long or longer are reported to the user
NO_LINK = -128          # the voice had no note before this bar
Voice = tuple[int, int]  # (staff, voice) of an excerpt


@dataclass
class Match:
    bars: int = 0                    # length of the longest shared run
    piece: str | None = None         # where: a training piece's id, or "this score"
    voice: Voice | None = None       # which voice of the variant
    measures: tuple[int, int] | None = None   # the variant's measure indices [first, last] of the run
    piece_bars: tuple[int, int] | None = None  # the run's bars in the other piece (0-based)

    def as_dict(self) -> dict:
        out = {"bars": self.bars, "piece": self.piece}
        if self.bars:
            out.update(staff=self.voice[0], voice=self.voice[1], measures=list(self.measures),
                       piece_bars=list(self.piece_bars))
        return out


# ---------------------------------------------------------------------------- fingerprints

def _pitch_list(event: dict) -> list[int]:
    return sorted(n["pitch"] for n in event.get("notes") or [])


def bar_fingerprint(events: list[dict], previous: int | None) -> tuple[int, int, int | None]:
    """(hash or 0 when the bar does not count, link, last pitch) of one voice's events in a bar."""
    pitches = [p for e in events if e.get("type") == "chord" for p in _pitch_list(e)[:1]]
    onsets = sum(1 for e in events if e.get("type") == "chord" and e.get("notes")
                 and not all(n.get("tie") in ("stop", "continue") for n in e["notes"]))
    if not pitches:
        return 0, NO_LINK, previous
    ref = pitches[0]
    tokens = []
    for e in events:
        duration = str(Fraction(e["duration"]))
        if e.get("type") == "chord" and e.get("notes"):
            tokens.append((duration, tuple(p - ref for p in _pitch_list(e))))
        else:
            tokens.append((duration, None))
    link = NO_LINK if previous is None else max(-127, min(127, ref - previous))
    last = _pitch_list([e for e in events if e.get("type") == "chord" and e.get("notes")][-1])[0]
    if onsets < MIN_ONSETS:
        return 0, link, last
    digest = hashlib.blake2b(repr(tokens).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") or 1, link, last


def voice_bars(excerpt: dict, staves: Iterable[int] | None = None,
               skip: tuple[int, int] | None = None) -> dict[Voice, tuple[list[int], np.ndarray, np.ndarray]]:
    """Per voice of the excerpt: (measure indices, hashes uint32, links int8), measure by measure.

    `staves`: only these staves; `skip`: measure indices [start, end) left out (they break runs)."""
    wanted = None if staves is None else set(staves)
    measures = excerpt.get("measures") or []
    voices: set[Voice] = set()
    for m in measures:
        for st in m.get("staves") or []:
            if wanted is None or st["staff"] in wanted:
                voices.update((st["staff"], v["voice"]) for v in st.get("voices") or [])
    out = {}
    for key in sorted(voices):
        indices, hashes, links, previous = [], [], [], None
        for m in measures:
            if skip is not None and skip[0] <= m["index"] < skip[1]:
                indices.append(m["index"])
                hashes.append(0)
                links.append(NO_LINK)
                previous = None
                continue
            st = next((s for s in m.get("staves") or [] if s["staff"] == key[0]), None)
            events = next((v["events"] for v in (st or {}).get("voices") or [] if v["voice"] == key[1]), None)
            h, link, previous = bar_fingerprint(events, previous) if events is not None else (0, NO_LINK, previous)
            indices.append(m["index"])
            hashes.append(h)
            links.append(link)
        out[key] = (indices, np.asarray(hashes, dtype=np.uint32), np.asarray(links, dtype=np.int8))
    return out


# ---------------------------------------------------------------------------- the index

class BarIndex:
    """Fingerprints of many pieces: all their voices' bars one after the other."""

    def __init__(self, hashes: np.ndarray, links: np.ndarray, starts: np.ndarray, owners: np.ndarray,
                 pieces: list[str]):
        self.hashes, self.links = hashes.astype(np.uint32), links.astype(np.int8)
        self.starts, self.owners, self.pieces = starts.astype(np.int64), owners.astype(np.int32), list(pieces)
        self._order = np.argsort(self.hashes, kind="stable")
        self._sorted = self.hashes[self._order]
        seq = np.zeros(len(self.hashes), dtype=np.int64)
        if len(self.starts) > 1:
            seq[self.starts[1:-1]] = 1
        self._seq = np.cumsum(seq)         # which voice sequence each bar belongs to

    @classmethod
    def build(cls, pieces: Iterable[tuple[str, dict]], skip: tuple[int, int] | None = None) -> "BarIndex":
        """From (name, excerpt) pairs: every voice of every piece (measures in `skip` left out)."""
        hashes, links, starts, owners, names = [], [], [0], [], []
        for name, excerpt in pieces:
            for _, (_, h, link) in voice_bars(excerpt, skip=skip).items():
                if not (h != 0).any():
                    continue
                hashes.append(h)
                links.append(link)
                starts.append(starts[-1] + len(h))
                owners.append(len(names))
            names.append(name)
        cat = (lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype))
        return cls(cat(hashes, np.uint32), cat(links, np.int8), np.asarray(starts), np.asarray(owners, dtype=np.int32), names)

    @classmethod
    def merge(cls, first: "BarIndex", second: "BarIndex") -> "BarIndex":
        shift = len(first.hashes)
        return cls(np.concatenate([first.hashes, second.hashes]), np.concatenate([first.links, second.links]),
                   np.concatenate([first.starts, second.starts[1:] + shift]),
                   np.concatenate([first.owners, second.owners + len(first.pieces)]), first.pieces + second.pieces)

    def save(self, path: str | Path) -> int:
        """Write the index (compressed); returns its size in bytes."""
        path = Path(path)
        with open(path, "wb") as f:
            np.savez_compressed(f, hashes=self.hashes, links=self.links, starts=self.starts, owners=self.owners,
                                pieces=np.frombuffer(json.dumps(self.pieces).encode(), dtype=np.uint8))
        return path.stat().st_size

    @classmethod
    def load(cls, path: str | Path) -> "BarIndex":
        with np.load(path) as data:
            pieces = json.loads(bytes(data["pieces"]).decode())
            return cls(data["hashes"], data["links"], data["starts"], data["owners"], pieces)

    @property
    def bars(self) -> int:
        return int((self.hashes != 0).sum())

    def longest_run(self, hashes: np.ndarray, links: np.ndarray) -> tuple[int, int, int]:
        """(length, end bar in the query, end position in the index) of the longest run of the
        query's bars found in the index (0, -1, -1 when none)."""
        best = (0, -1, -1)
        prev_pos = np.zeros(0, dtype=np.int64)
        prev_run = np.zeros(0, dtype=np.int64)
        for i, h in enumerate(hashes):
            if h == 0:
                prev_pos, prev_run = prev_pos[:0], prev_run[:0]
                continue
            lo, hi = np.searchsorted(self._sorted, h, side="left"), np.searchsorted(self._sorted, h, side="right")
            pos = np.sort(self._order[lo:hi])
            run = np.ones(len(pos), dtype=np.int64)
            if len(prev_pos) and len(pos):
                at = np.searchsorted(prev_pos, pos - 1)
                found = (at < len(prev_pos)) & (prev_pos[np.minimum(at, len(prev_pos) - 1)] == pos - 1)
                found &= self._seq[np.maximum(pos - 1, 0)] == self._seq[pos]        # same voice sequence
                found &= self.links[pos] == links[i]                                 # same step into the bar
                run[found] = prev_run[at[found]] + 1
            if len(run) and run.max() > best[0]:
                k = int(run.argmax())
                best = (int(run[k]), i, int(pos[k]))
            prev_pos, prev_run = pos, run
        return best

    def where(self, position: int) -> tuple[str, int]:
        """The piece holding an index position and the bar number in its voice (0-based)."""
        seq = int(self._seq[position])
        return self.pieces[int(self.owners[seq])], position - int(self.starts[seq])


def longest_shared(variant: dict, index: BarIndex, staves: Iterable[int] | None = None,
                   label: str | None = None) -> Match:
    """The variant's longest run of bars (any of its voices, or those on `staves`) found in `index`."""
    best = Match()
    for key, (indices, hashes, links) in voice_bars(variant, staves).items():
        length, end, position = index.longest_run(hashes, links)
        if length > best.bars:
            piece, bar = index.where(position)
            best = Match(length, label or piece, key, (indices[end - length + 1], indices[end]), (bar - length + 1, bar))
    return best


# ---------------------------------------------------------------------------- what compose calls

_cache: dict[str, tuple[float, BarIndex]] = {}
_lock = threading.Lock()


def bundle_index(bundle_path: str | Path | None) -> BarIndex | None:
    """The bundle's training-piece index, loaded once (None when the bundle ships none)."""
    if bundle_path is None:
        return None
    path = Path(bundle_path) / INDEX_FILE
    if not path.is_file():
        return None
    with _lock:
        stamp = path.stat().st_mtime
        cached = _cache.get(str(path))
        if cached is None or cached[0] != stamp:
            cached = _cache[str(path)] = (stamp, BarIndex.load(path))
        return cached[1]


def originality(variant_excerpt: dict, training: BarIndex | None, own_score: dict | None = None,
                own_skip: tuple[int, int] | None = None, staves: Iterable[int] | None = None) -> dict:
    """The `originality` field of a variant: its longest run shared with the training pieces and
    with the user's own score (measures in `own_skip` left out), and a warning from WARN_BARS on."""
    staves = None if staves is None else list(staves)
    found = {"training": longest_shared(variant_excerpt, training, staves) if training is not None else None}
    own = None
    if own_score is not None:
        own_index = BarIndex.build([("this score", own_score)], skip=own_skip)
        own = longest_shared(variant_excerpt, own_index, staves, label="this score")
    found["own_score"] = own
    warnings = []
    if found["training"] is not None and found["training"].bars >= WARN_BARS:
        m = found["training"]
        warnings.append(f"{m.bars} bars (measures {m.measures[0] + 1}-{m.measures[1] + 1}, staff {m.voice[0] + 1}) "
                        f"are the same as bars {m.piece_bars[0] + 1}-{m.piece_bars[1] + 1} of the training piece "
                        f"{m.piece}, perhaps transposed")
    if own is not None and own.bars >= WARN_BARS:
        warnings.append(f"{own.bars} bars (measures {own.measures[0] + 1}-{own.measures[1] + 1}, staff "
                        f"{own.voice[0] + 1}) repeat bars of your own score, perhaps transposed")
    return {"training": None if found["training"] is None else found["training"].as_dict(),
            "own_score": None if own is None else own.as_dict(),
            "index": training is not None,
            "max_bars": max([m.bars for m in found.values() if m is not None] or [0]),
            "warning": "; ".join(warnings) or None}

