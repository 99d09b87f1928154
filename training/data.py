"""The corpus files training reads, and the batches it trains on.

A corpus directory holds `train.jsonl` and `validation.jsonl` (written by training.corpus),
one piece a line:

    {"id": "bach/bwv66.6", "prompt": ["Baroque", "Bach, Johann Sebastian", "Choral"],
     "abc": "<interleaved ABC without prompt lines>",
     "pretrain": ["<the piece in other keys>", ...], "finetune": ["<within +-3 semitones>", ...]}

and, for `notabridge finetune`'s pieces, "contrast": [[period, composer, instrumentation], ...], the
competing prompts the piece must be unlikelier under (training.contrast).

Pre-training reads the pieces without prompt lines in any of their keys; prompt fine-tuning
puts the three prompt lines first and uses only the keys near the original (NotaGen's recipe).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from notabridge.abc.prompt import prompt_text

from .windows import EncodedPiece, encode_piece, evaluation_windows, training_window

PHASES = ("pretrain", "finetune")


@dataclass
class Piece:
    id: str
    prompt: tuple[str, str, str]
    abc: str
    variants: dict[str, list[str]] = field(default_factory=dict)
    contrast: list[tuple[str, str, str]] = field(default_factory=list)   # prompts it must be unlikelier under


def piece_text(piece: Piece, phase: str, variant: int = 0) -> str:
    """Text of one version of a piece as the phase trains on it (variant 0 = original key)."""
    texts = [piece.abc] + piece.variants.get(phase, [])
    text = texts[variant % len(texts)]
    return prompt_text(piece.prompt) + text if phase == "finetune" else text


def read_jsonl(path: str | Path) -> list[Piece]:
    pieces = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                pieces.append(Piece(obj["id"], tuple(obj["prompt"]), obj["abc"],
                                    {p: obj.get(p, []) for p in PHASES},
                                    [tuple(c) for c in obj.get("contrast", [])]))
    return pieces


class PieceCache:
    """Encodes each (piece, phase, variant) once; encoding is pure Python and not free."""

    def __init__(self, pieces: list[Piece]):
        self.pieces = pieces
        self._cache: dict[tuple[int, str, int], EncodedPiece] = {}

    def variants(self, index: int, phase: str) -> int:
        return 1 + len(self.pieces[index].variants.get(phase, []))

    def get(self, index: int, phase: str, variant: int) -> EncodedPiece:
        key = (index, phase, variant)
        if key not in self._cache:
            self._cache[key] = encode_piece(piece_text(self.pieces[index], phase, variant))
        return self._cache[key]


def epoch_batches(cache: PieceCache, phase: str, patch_length: int, max_patches: int,
                  seed: int) -> list[list[np.ndarray]]:
    """One epoch of training batches, identical on every DDP rank for the same seed.

    Each piece appears once, in a random key and (when long) a random window. Windows of
    similar length go together so little compute is spent on padding; each batch holds at
    most `max_patches` patches including padding.
    """
    rng = np.random.default_rng(seed)
    windows = []
    for i in rng.permutation(len(cache.pieces)):
        variant = int(rng.integers(cache.variants(int(i), phase)))
        windows.append(training_window(cache.get(int(i), phase, variant), patch_length, rng))
    return _pack(windows, max_patches, rng)


def evaluation_batches(cache: PieceCache, phase: str, patch_length: int, max_patches: int) -> list[list[np.ndarray]]:
    """Every validation piece in its original key, every body character scored once."""
    windows = [w for i in range(len(cache.pieces))
               for w in evaluation_windows(cache.get(i, phase, 0), patch_length)]
    return _pack(windows, max_patches, None)


def _pack(windows: list[np.ndarray], max_patches: int, rng: np.random.Generator | None,
          chunk: int = 256) -> list[list[np.ndarray]]:
    batches = []
    for start in range(0, len(windows), chunk):
        group = sorted(windows[start:start + chunk], key=len, reverse=True)
        current: list[np.ndarray] = []
        for w in group:
            if current and len(current[0]) * (len(current) + 1) > max_patches:
                batches.append(current)
                current = []
            current.append(w)
        if current:
            batches.append(current)
    if rng is not None:
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
    return batches


def collate(batch: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pad windows at the end with all-zero patches: [B, N, 16] int64 and lengths [B].

    The patch decoder is causal, so trailing pad patches change nothing at real positions;
    the loss only reads positions below each length.
    """
    n = max(len(w) for w in batch)
    out = np.zeros((len(batch), n, 16), dtype=np.int64)
    for i, w in enumerate(batch):
        out[i, :len(w)] = w
    return out, np.asarray([len(w) for w in batch], dtype=np.int64)
