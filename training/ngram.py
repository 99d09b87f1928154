"""A character n-gram baseline (interpolated Witten-Bell) on the character stream the model scores.

The stream of a piece is the characters the NotaGen objective scores, in order: every patch
after the bos patch, its pad characters dropped (eos characters kept). So the n-gram and the
model are charged for exactly the same characters, and their bits per character compare.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict


from notabridge.abc.patching import PAD_ID, encode

VOCAB = 128


def scored_stream(abc_text: str) -> str:
    """Characters of every patch after the first, pads dropped (notabridge.abc.patching's encoding)."""
    ids = encode(abc_text)[1:]
    return "".join(chr(c) for c in ids[ids != PAD_ID])


class CharNgram:
    def __init__(self, order: int = 6):
        self.order = order
        self.counts: list[Counter] = [Counter() for _ in range(order)]   # n-gram counts, n = 1..order
        self.context_totals: list[dict] = []
        self.context_types: list[dict] = []

    def fit(self, streams: list[str]) -> "CharNgram":
        for stream in streams:
            padded = "\x00" * (self.order - 1) + stream   # start-of-piece context
            for n in range(1, self.order + 1):
                counts = self.counts[n - 1]
                counts.update(padded[i - n + 1:i + 1] for i in range(self.order - 1, len(padded)))
        for n in range(self.order):
            totals, types = defaultdict(int), defaultdict(int)
            for gram, c in self.counts[n].items():
                totals[gram[:-1]] += c
                types[gram[:-1]] += 1
            self.context_totals.append(totals)
            self.context_types.append(types)
        return self

    def prob(self, history: str, char: str) -> float:
        p = 1.0 / VOCAB
        for n in range(1, self.order + 1):   # from unigram up, interpolating with the lower order
            h = history[len(history) - n + 1:] if n > 1 else ""
            total = self.context_totals[n - 1].get(h, 0)
            if not total:
                break
            types = self.context_types[n - 1][h]
            p = (self.counts[n - 1].get(h + char, 0) + types * p) / (total + types)
        return p

    def nats(self, stream: str) -> tuple[float, int]:
        padded = "\x00" * (self.order - 1) + stream
        total = 0.0
        for i in range(self.order - 1, len(padded)):
            total -= math.log(self.prob(padded[i - self.order + 1:i], padded[i]))
        return total, len(stream)


def bits_per_char(model: CharNgram, streams: list[str]) -> float:
    nats = chars = 0
    for s in streams:
        a, b = model.nats(s)
        nats, chars = nats + a, chars + b
    return nats / chars / math.log(2) if chars else float("nan")


__all__ = ["CharNgram", "scored_stream", "bits_per_char"]
