"""A stand-in for the model that wants one real piece, and the real pieces it is asked for.

`OracleRunner` has the interface of notabridge.engine.runtime.Runner; its next-character distribution puts
all its mass on the next character of the piece's training patches (notabridge.abc.patching), wherever
the decoder stands. Driving the real Decoder and BarWriter with it shows what text and which
patches the writer lets through: when the writer's patches or masks differ from training, the
oracle's character is refused (or the decoder is fed another patch) and the text goes astray.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from notabridge.abc.patching import EOS_ID, PATCH_SIZE

# (kind, music21 corpus path) of the real pieces: chorales, quartets, keyboard, folk tunes
# (ABC files), songs with triplets, madrigals
PIECES = [("chorale", f"bach/bwv{n}") for n in
          ("66.6", "1.6", "10.7", "101.7", "102.7", "103.6", "104.6", "108.6", "113.8", "110.7", "114.7",
           "115.6", "116.6", "117.4", "119.9", "12.7", "120.6", "121.6", "122.6", "123.6")] + [
    ("quartet", "haydn/opus74no1/movement1"), ("quartet", "mozart/k80/movement1"),
    ("quartet", "haydn/opus1no1/movement1"), ("quartet", "mozart/k155/movement1"),
    ("quartet", "beethoven/opus18no1/movement3"),
    ("keyboard", "joplin/maple_leaf_rag"), ("keyboard", "mozart/k545/movement1"), ("keyboard", "chopin/mazurka06-2"),
    ("keyboard", "bach/bwv846"), ("keyboard", "schumann_clara/polonaise_op1n1"),
    ("folk", "ryansMammoth/BrazenMaskReel"), ("folk", "ryansMammoth/RoryOMoreJig"),
    ("folk", "ryansMammoth/KissTheBrideReel"), ("folk", "ryansMammoth/MyPrettyFairMaidJig"),
    ("folk", "airdsAirs/book1"), ("folk", "ryansMammoth/FirstNightInLeadvilleReel"),
    ("song", "schubert/lindenbaum"), ("song", "schumann_robert/dichterliebe_no2"),
    ("song", "handel/rinaldo/Lascia_chio_pianga"),
    ("madrigal", "monteverdi/madrigal.3.1"), ("madrigal", "monteverdi/madrigal.3.2"),
]


def _changes(lines: list[str]) -> set[str]:
    from notabridge.abc.syntax import CLEFS, INLINE_FIELD

    out = set()
    for m in INLINE_FIELD.finditer("".join(lines)):
        value = m.group(2).split()
        if m.group(1) == "M" or (m.group(1) == "K" and value and value[0] not in CLEFS):
            out.add(m.group(1))
    return out


def changes_key_or_meter(text: str) -> bool:
    """Does the piece change key or meter (inline [K:]/[M:], a clef alone aside) after its first
    bar, in a way its first bar does not (the writer lets through only the changes the user's
    bars hold)?"""
    from notabridge.abc.patching import split_piece

    body = split_piece(text).body
    return bool(_changes(body[1:]) - _changes(body[:1]))


def _first_tune(path: Path) -> int:
    import re

    match = re.search(r"^X:\s*(\d+)", path.read_text(encoding="latin-1"), re.M)
    return int(match.group(1)) if match else 1


@lru_cache(maxsize=None)
def piece_abc(name: str) -> str:
    """A corpus piece as NotaGen interleaved ABC, converted by the notation layer."""
    from music21 import converter, corpus

    from notabridge.notation import to_abc

    found = corpus.getWork(name)
    path = Path(found[0] if isinstance(found, list) else found)
    score = converter.parse(path, number=_first_tune(path)) if path.suffix == ".abc" else converter.parse(path)
    if hasattr(score, "scores"):
        score = score.scores[0]
    return to_abc(score)


@dataclass
class OracleCache:
    """Per row: the patches the model has read so far (and how many a prefix of them keeps)."""
    rows: list[list[str]]
    length: int = 0


@dataclass
class OracleRunner:
    target: list[str]                       # the piece's training patches (notabridge.abc.patching.piece_patches)
    patch_length: int = 512
    fed: list[str] = field(default_factory=list)   # patches the decoder wrote and fed back, in order

    # -- caches (the decoder's bookkeeping) ----------------------------------------------------
    def empty(self, level: str, batch: int):
        return OracleCache([[] for _ in range(batch)]) if level == "patch" else np.zeros(batch, dtype=np.int64)

    def take(self, cache: OracleCache, rows: list[int], length: int | None = None) -> OracleCache:
        length = cache.length if length is None else length
        return OracleCache([list(cache.rows[r][:length]) for r in rows], length)

    def concat(self, caches: list[OracleCache]) -> OracleCache:
        return OracleCache([list(r) for c in caches for r in c.rows], caches[0].length)

    def repeat(self, cache: OracleCache, n: int) -> OracleCache:
        return OracleCache([list(cache.rows[0]) for _ in range(n)], cache.length)

    # -- steps ---------------------------------------------------------------------------------
    def patch(self, ids: np.ndarray, cache: OracleCache):
        """hidden[b, t, 0] = index in `target` of the patch that follows what row b has read."""
        batch, steps = ids.shape[:2]
        hidden = np.zeros((batch, steps, 1), dtype=np.float32)
        stepping = cache.length > 0 and steps == 1
        for b in range(batch):
            for t in range(steps):
                text = "".join(chr(c) for c in ids[b, t] if c)
                cache.rows[b].append(text)
                hidden[b, t, 0] = self._next_index(cache.rows[b])
            if stepping and b == 0:
                self.fed.append(cache.rows[b][-1])
        cache.length += steps
        return hidden, cache

    def _next_index(self, read: list[str]) -> int:
        """Where in the piece the patches read so far end (their last patches, matched)."""
        ends = [k + 1 for k in self._where.get(read[-1], [])]
        for m in (8, 32, len(read)):
            window = read[-m:]
            hits = [e for e in ends if e >= len(window) and self.target[e - len(window):e] == window]
            if len(hits) == 1 or (hits and m >= len(read)):
                return hits[-1]
            if not hits:
                break
        return len(self.target) - 1   # astray: the test compares what was fed and says where

    def char(self, chars: np.ndarray, patch_hidden: np.ndarray, cache: np.ndarray):
        batch, steps = chars.shape
        logits = np.zeros((batch, steps, 128), dtype=np.float32)
        for b in range(batch):
            patch = self.target[min(int(patch_hidden[b, 0]), len(self.target) - 1)]
            for t in range(steps):
                pos = int(cache[b]) + t          # characters of this patch already written
                wanted = ord(patch[pos]) if pos < len(patch) else EOS_ID
                logits[b, t, wanted] = 30.0
        return logits, cache + steps

    def __post_init__(self):
        assert all(len(p) <= PATCH_SIZE for p in self.target)
        self._where: dict[str, list[int]] = {}
        for k, p in enumerate(self.target):
            self._where.setdefault(p, []).append(k)
