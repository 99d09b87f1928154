"""Bits per character of int8 bundles against their fp32 originals, on held-out real pieces.

    nice -n 10 python bench/int8_quality.py FP32_BUNDLE [FP32_BUNDLE ...] [--pieces 13]

Each fp32 bundle is quantised (onnx_export/quantize.py, default calibration pieces) into a
temporary folder unless --int8 names the int8 bundles, and both are scored (notabridge.engine.scoring,
NotaGen's loss, with the pieces' prompt lines) on pieces of music21's corpus that the
training split of training.corpus holds out (validation side of its hash), none of them a
calibration piece. Prints per bundle: bits/char fp32, int8, the change, and the largest
per-piece change.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# held-out pieces per training.corpus source: chorales, trecento, a quartet movement, folk tunes
PER_SOURCE = {"bach": 6, "trecento": 2, "haydn": 1, "oneill": 4}


def held_out_pieces(per_source: dict[str, int] = PER_SOURCE) -> list[tuple[str, str]]:
    """(id, ABC with prompt lines) of pieces on the validation side of training.corpus's split."""
    from music21 import converter

    from notabridge.notation import to_abc
    from training.corpus import SOURCES, corpus_root, is_validation, split_tunes, transposed
    from training.data import prompt_lines

    root = corpus_root()
    out = []
    warnings.filterwarnings("ignore")
    for src in SOURCES:
        want = per_source.get(src.name, 0)
        paths = sorted({os.path.relpath(p, root) for pat in src.patterns for p in glob.glob(str(root / pat))})
        got = 0
        for rel in paths:
            if got >= want:
                break
            base = f"{src.name}/{Path(rel).with_suffix('').as_posix()}"
            if src.kind == "abc_tunes":
                sources = [(f"{base}#{i}", t) for i, t in enumerate(split_tunes((root / rel).read_text(errors="replace")))]
            else:
                sources = [(base, str(root / rel))]
            for piece_id, source in sources:
                if got >= want or not is_validation(piece_id, 0.05):
                    continue
                try:
                    score = converter.parse(source, format="abc") if src.kind == "abc_tunes" else source
                    abc = transposed(to_abc(score, reduce_rests=False), None)   # as training.corpus writes it
                except Exception:  # noqa: BLE001 - a piece the converter cannot read is skipped
                    continue
                out.append((piece_id, prompt_lines(src.prompt) + abc))
                got += 1
    return out


def score(bundle_path: Path, pieces: list[tuple[str, str]]) -> dict[str, tuple[float, int]]:
    from notabridge.engine.bundle import load_bundle
    from notabridge.engine.scoring import score_abc

    bundle = load_bundle(bundle_path, "cpu")
    out = {}
    for piece_id, text in pieces:
        s = score_abc(bundle, text)
        out[piece_id] = (s.nats, s.chars)
    return out


def bits(scores: dict) -> float:
    return sum(n for n, _ in scores.values()) / sum(c for _, c in scores.values()) / 0.6931471805599453


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundles", nargs="+", type=Path, help="fp32 bundles")
    ap.add_argument("--int8", nargs="+", type=Path, help="their int8 versions, in the same order (default: quantise)")
    args = ap.parse_args()
    if args.int8 and len(args.int8) != len(args.bundles):
        ap.error("give one --int8 bundle per fp32 bundle")
    from notabridge.onnx_export.quantize import quantize_bundle

    pieces = held_out_pieces()
    chars = sum(len(t) for _, t in pieces)
    print(f"{len(pieces)} held-out pieces, {chars:,} characters of ABC", flush=True)
    for i, fp32 in enumerate(args.bundles):
        with tempfile.TemporaryDirectory() as tmp:
            int8 = args.int8[i] if args.int8 else Path(tmp) / "int8"
            if not args.int8:
                t = time.perf_counter()
                config = quantize_bundle(fp32, int8)
                print(f"{fp32}: quantised in {time.perf_counter() - t:.0f} s, int8 groups: "
                      f"{len(config['quantization']['int8'])}, kept fp32: {config['quantization']['fp32'] or 'none'}",
                      flush=True)
            a, b = score(fp32, pieces), score(int8, pieces)
        worst = max(abs(b[k][0] - a[k][0]) / a[k][1] / 0.6931471805599453 for k in a)
        print(f"{fp32}: fp32 {bits(a):.4f} bits/char, int8 {bits(b):.4f} bits/char, change {bits(b) - bits(a):+.4f} "
              f"(largest per piece {worst:.4f}) on {sum(c for _, c in a.values()):,} scored characters", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
