"""A character n-gram table that drafts characters for speculative decoding (bridge/speculative.py).

Built from the text a model was trained on (the character stream NotaGen's objective scores:
every patch after the first, pads dropped, eos kept), shipped in the bundle as
`draft_ngram.npz` and listed in config.json (docs/bundle.md). For each context of 0 to
order-1 characters seen at least `min_count` times it keeps the `top` most frequent next
characters and their counts. A draft comes from the longest context of the history that the
table knows. Drafts only decide how much work a verifying call saves; what is sampled is always
the model's distribution (bridge/speculative.py), so a poor table costs speed, never quality.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

FILE = "draft_ngram.npz"
VOCAB = 128
DEFAULT_ORDER = 5
_LEN_SHIFT = 56            # key = length << 56 | packed 7-bit characters: up to 8 characters of context


def _key(context: str) -> int:
    key = len(context) << _LEN_SHIFT
    for i, c in enumerate(context):
        key |= (ord(c) & 0x7F) << (7 * i)
    return key


class DraftTable:
    def __init__(self, order: int, keys: np.ndarray, chars: np.ndarray, counts: np.ndarray):
        self.order = order
        self.keys, self.chars, self.counts = keys, chars, counts     # sorted keys; [R, top] each

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls, streams: Iterable[str], order: int = DEFAULT_ORDER, top: int = 8, min_count: int = 2) -> "DraftTable":
        """Count the n-grams of `streams` (scored character streams, training.ngram.scored_stream)."""
        if not 1 <= order <= 9:
            raise ValueError("order must be 1..9")
        data = np.frombuffer("".join(streams).encode("ascii", "replace"), dtype=np.uint8).astype(np.uint64) & 0x7F
        keys, chars, counts = [], [], []
        for n in range(min(order, len(data))):
            ctx = np.full(len(data) - n, n << _LEN_SHIFT, dtype=np.uint64)
            for i in range(n):
                ctx |= data[i:len(data) - n + i] << np.uint64(7 * i)
            pairs, count = np.unique(np.stack([ctx, data[n:]], axis=1), axis=0, return_counts=True)
            # within each context, most frequent next characters first
            order_ix = np.lexsort((-count, pairs[:, 0]))
            pairs, count = pairs[order_ix], count[order_ix]
            ctx_keys, starts, sizes = np.unique(pairs[:, 0], return_index=True, return_counts=True)
            totals = np.add.reduceat(count, starts)
            group = np.repeat(np.arange(len(ctx_keys)), sizes)
            rank = np.arange(len(pairs)) - starts[group]
            keep_ctx = totals >= (min_count if n else 0)
            sel = (rank < top) & keep_ctx[group]
            row_of = np.cumsum(keep_ctx) - 1
            c = np.zeros((int(keep_ctx.sum()), top), np.uint8)
            k = np.zeros((int(keep_ctx.sum()), top), np.uint32)
            c[row_of[group[sel]], rank[sel]] = pairs[sel, 1]
            k[row_of[group[sel]], rank[sel]] = count[sel]
            keys.append(ctx_keys[keep_ctx])
            chars.append(c)
            counts.append(k)
        keys_all = np.concatenate(keys)
        order_ix = np.argsort(keys_all, kind="stable")
        return cls(order, keys_all[order_ix], np.concatenate(chars)[order_ix], np.concatenate(counts)[order_ix])

    # -- files --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        with open(path, "wb") as f:   # a file object: numpy would add .npz to a name without it
            np.savez_compressed(f, order=np.array(self.order), keys=self.keys, chars=self.chars, counts=self.counts)

    @classmethod
    def load(cls, path: str | Path) -> "DraftTable":
        with np.load(path) as z:
            return cls(int(z["order"]), z["keys"], z["chars"], z["counts"])

    # -- drafting -----------------------------------------------------------------------------
    def probs(self, history: str) -> np.ndarray:
        """Next-character probabilities [128] after `history`, from its longest known context
        (all zeros when not even the empty context is known)."""
        out = np.zeros(VOCAB)
        for n in range(min(self.order - 1, len(history)), -1, -1):
            key = np.uint64(_key(history[len(history) - n:] if n else ""))
            i = int(np.searchsorted(self.keys, key))
            if i < len(self.keys) and self.keys[i] == key:
                counts = self.counts[i].astype(np.float64)
                np.add.at(out, self.chars[i], counts)
                total = out.sum()
                return out / total if total else out
        return out

    def __len__(self) -> int:
        return len(self.keys)


def add_to_bundle(bundle: str | Path, table: DraftTable, source: str) -> dict:
    """Write `table` into the bundle folder and list it in config.json (file, sha256, order, source)."""
    import json

    from notabridge.engine.bundle import sha256_file

    bundle = Path(bundle)
    table.save(bundle / FILE)
    config_file = bundle / "config.json"
    config = json.loads(config_file.read_text())
    config["draft"] = {"file": FILE, "sha256": sha256_file(bundle / FILE), "order": table.order,
                       "contexts": len(table), "source": source}
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    return config
