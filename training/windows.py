"""Pieces of interleaved ABC -> windows of patch ids that fit the model's context.

A piece is encoded once with NotaGen's training encoder (notabridge.abc.patching: bos patch, header,
`[r:i/j]`-prefixed body lines, eos patch). A piece longer than the context is cut like
NotaGen's stream mode: the header, then a run of whole body lines starting at some line (their
`[r:]` marks keep the numbering of the whole piece), as many as fit. Training draws the start
line at random; evaluation walks through the piece in consecutive windows so that every body
character is scored exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from notabridge.abc.patching import (BOS_PATCH, EOS_PATCH, add_line_prefixes, line_patches,
                             patches_to_ids, split_piece)


@dataclass
class EncodedPiece:
    """Patch ids of one piece: header patches, then body patches with line boundaries."""

    header: np.ndarray        # [H, 16] uint8
    body: np.ndarray          # [B, 16] uint8, all body lines one after the other
    line_starts: np.ndarray   # [lines + 1] patch offsets of each body line in `body` (last = B)

    @property
    def total(self) -> int:
        """Patches of the whole piece with its bos and eos patches."""
        return 2 + len(self.header) + len(self.body)


def encode_piece(abc_text: str) -> EncodedPiece:
    """Encode one interleaved ABC piece (prompt lines, if wanted, already in the text)."""
    piece = split_piece(abc_text)
    header = [p for line in piece.header for p in line_patches(line, False)]
    starts, body = [0], []
    for line in add_line_prefixes(piece.body):
        body += line_patches(line, True)
        starts.append(len(body))
    return EncodedPiece(_ids(header), _ids(body), np.asarray(starts, dtype=np.int64))


def _ids(patches: list[str]) -> np.ndarray:
    if not patches:
        return np.zeros((0, 16), dtype=np.uint8)
    return patches_to_ids(patches).astype(np.uint8)


BOS_ROW = patches_to_ids([BOS_PATCH]).astype(np.uint8)
EOS_ROW = patches_to_ids([EOS_PATCH]).astype(np.uint8)


def _window(piece: EncodedPiece, first_line: int, patch_length: int) -> tuple[np.ndarray, int]:
    """bos + header + whole body lines from `first_line` while they fit (+ eos at the end of
    the piece). Returns the window and the index of the first line left out."""
    room = patch_length - 1 - len(piece.header)
    starts = piece.line_starts
    begin = starts[first_line]
    # last line index whose end still fits
    end_line = int(np.searchsorted(starts, begin + room, side="right")) - 1
    end_line = max(end_line, first_line + 1)  # always take at least one line (cut below if huge)
    end_line = min(end_line, len(starts) - 1)
    parts = [BOS_ROW, piece.header, piece.body[begin:starts[end_line]]]
    if end_line == len(starts) - 1 and starts[end_line] - begin < room:
        parts.append(EOS_ROW)
    return np.concatenate(parts)[:patch_length], end_line


def training_window(piece: EncodedPiece, patch_length: int, rng: np.random.Generator) -> np.ndarray:
    """The whole piece when it fits, else a window starting at a random body line."""
    if piece.total <= patch_length:
        return _window(piece, 0, patch_length)[0]
    lines = len(piece.line_starts) - 1
    room = patch_length - 1 - len(piece.header)
    # start lines from which the window is full (or reaches the end of the piece)
    last_full = int(np.searchsorted(piece.line_starts, piece.line_starts[-1] - room, side="left"))
    return _window(piece, int(rng.integers(0, min(max(last_full, 0), lines - 1) + 1)), patch_length)[0]


def evaluation_windows(piece: EncodedPiece, patch_length: int) -> list[np.ndarray]:
    """Consecutive windows covering every body line once (header repeated in each)."""
    lines = len(piece.line_starts) - 1
    if piece.total <= patch_length or lines == 0:
        return [_window(piece, 0, patch_length)[0]]
    out, line = [], 0
    while line < lines:
        window, line = _window(piece, line, patch_length)
        out.append(window)
    return out
