"""NotaGen's patching of interleaved ABC: text <-> 16-character patches of byte ids.

Follows NotaGen's training encoder exactly (bos patch, `[r:i/j]` line prefixes, bars split on
barlines with the barline leading the next voice segment, eos-terminated patches, eos patch),
so that likelihoods computed here are the ones the model was trained to give.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .syntax import BARLINE_SPLIT as _BARLINE_SPLIT
from .syntax import BARLINES
from .syntax import LINE_PREFIX as _LINE_PREFIX

PATCH_SIZE = 16
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
BOS_PATCH = chr(BOS_ID) * (PATCH_SIZE - 1) + chr(EOS_ID)
EOS_PATCH = chr(BOS_ID) + chr(EOS_ID) * (PATCH_SIZE - 1)


@dataclass
class SplitPiece:
    """An interleaved ABC piece cut into its header lines and body (bar) lines, each ending in '\\n'."""

    header: list[str]
    body: list[str]


def split_piece(abc_text: str) -> SplitPiece:
    """Header = lines before the first line starting with `[V:` (or `[r:`); body = the rest."""
    lines = [line + "\n" for line in abc_text.split("\n") if line]
    start = next((i for i, line in enumerate(lines) if line.startswith(("[V:", "[r:"))), len(lines))
    return SplitPiece(lines[:start], lines[start:])


def add_line_prefixes(body: list[str]) -> list[str]:
    """Prefix body line i of n with `[r:i/n-1-i]` (NotaGen's "bar-stream" position marks)."""
    n = len(body)
    return [f"[r:{i}/{n - 1 - i}]{strip_line_prefix(line)}" for i, line in enumerate(body)]


def strip_line_prefix(line: str) -> str:
    return _LINE_PREFIX.sub("", line, count=1)


def split_bars(line: str) -> list[str]:
    """Cut one body line into voice segments: barlines start the next segment; the final
    barline and newline stay with the last one (NotaGen's `split_bars`)."""
    parts = [p for p in _BARLINE_SPLIT.split(line) if p]
    if len(parts) <= 1:
        return parts
    if parts[0] in BARLINES:
        segments = [parts[i] + (parts[i + 1] if i + 1 < len(parts) else "") for i in range(0, len(parts), 2)]
    else:
        segments = [parts[0]] + [parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
                                 for i in range(1, len(parts), 2)]
    if len(segments) > 1 and "V" not in segments[-1]:
        last = segments.pop()
        segments[-1] += last
    return segments


def split_patches(text: str, complete: bool = True) -> list[str]:
    """Cut text into patches of 16; a complete text whose length is not a multiple of 16 gets
    an eos character first. An incomplete text (still being generated) gets none."""
    if complete and len(text) % PATCH_SIZE:
        text += chr(EOS_ID)
    return [text[i:i + PATCH_SIZE] for i in range(0, len(text), PATCH_SIZE)]


def line_patches(line: str, is_body: bool) -> list[str]:
    """Patches of one header line (cut as is) or one body line (cut per voice segment)."""
    if not is_body:
        return split_patches(line)
    return [p for seg in split_bars(line) for p in split_patches(seg)]


def piece_patches(abc_text: str, prefixes: bool = True, add_eos: bool = True) -> list[str]:
    """The patches NotaGen trains on: bos patch, header, body (with `[r:]` prefixes), eos patch."""
    piece = split_piece(abc_text)
    body = add_line_prefixes(piece.body) if prefixes else piece.body
    patches = [BOS_PATCH]
    patches += [p for line in piece.header for p in line_patches(line, False)]
    patches += [p for line in body for p in line_patches(line, True)]
    if add_eos:
        patches.append(EOS_PATCH)
    return patches


def patches_to_ids(patches: list[str]) -> np.ndarray:
    """[N, 16] int64 array of char ids, right-padded with 0. Characters must be ASCII (< 128)."""
    out = np.zeros((len(patches), PATCH_SIZE), dtype=np.int64)
    for i, patch in enumerate(patches):
        codes = [ord(c) for c in patch]
        if any(c >= 128 for c in codes):
            bad = next(c for c in patch if ord(c) >= 128)
            raise ValueError(f"character {bad!r} is not ASCII: NotaGen reads 7-bit ABC only")
        out[i, :len(codes)] = codes
    return out


def patch_to_text(ids) -> str:
    """Characters of one patch up to its eos (pads and bos dropped)."""
    chars = []
    for c in ids:
        c = int(c)
        if c == EOS_ID:
            break
        if c > EOS_ID:
            chars.append(chr(c))
    return "".join(chars)


def is_eos_patch(ids) -> bool:
    """NotaGen's end of piece: a generated patch that starts with bos then eos (or eos at once)."""
    ids = [int(c) for c in ids]
    return ids[:2] == [BOS_ID, EOS_ID] or (ids[:1] == [EOS_ID])


def encode(abc_text: str) -> np.ndarray:
    """Interleaved ABC -> [N, 16] ids exactly as NotaGen's training encoder makes them."""
    return patches_to_ids(piece_patches(abc_text))


def decode(ids: np.ndarray) -> str:
    """[N, 16] ids -> text (bos and eos patches dropped, `[r:]` prefixes kept)."""
    bos = [ord(c) for c in BOS_PATCH]
    return "".join(patch_to_text(row) for row in ids if not is_eos_patch(row) and [int(c) for c in row] != bos)
