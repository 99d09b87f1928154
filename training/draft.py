"""Add a draft table (bridge/draft.py) built from a corpus's training pieces to a bundle.

    python -m training.draft --data work_data/corpus BUNDLE [--order 5]

The table counts the character stream the model was trained on (training.ngram.scored_stream)
of every version of every training piece as each training phase saw it (training.data.piece_text:
original key and key-shifted copies, with prompt lines in fine-tuning). The engine then drafts characters with it
(bridge/speculative.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from notabridge.engine.draft import DEFAULT_ORDER, DraftTable, add_to_bundle

from .data import PHASES, piece_text, read_jsonl
from .ngram import scored_stream


def training_streams(corpus: Path) -> list[str]:
    streams = []
    for piece in read_jsonl(corpus / "train.jsonl"):
        for phase in PHASES:
            streams += [scored_stream(piece_text(piece, phase, v))
                        for v in range(1 + len(piece.variants.get(phase, [])))]
    return streams


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.draft", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="corpus directory with train.jsonl")
    p.add_argument("bundle", type=Path, help="bundle folder to add the table to")
    p.add_argument("--order", type=int, default=DEFAULT_ORDER, help="n-gram order (context of order-1 characters)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    streams = training_streams(args.data)
    table = DraftTable.build(streams, order=args.order)
    source = f"{len(streams)} streams, {sum(map(len, streams)):,} characters of {args.data.name}/train.jsonl"
    add_to_bundle(args.bundle, table, source)
    print(f"added a {args.order}-gram draft table ({len(table):,} contexts, "
          f"{(args.bundle / 'draft_ngram.npz').stat().st_size / 2**20:.1f} MiB) to {args.bundle} from {source} "
          f"in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
