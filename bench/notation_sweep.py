"""A bigger notation correctness sweep than CI's (tests/test_notation_sweep.py).

    python bench/notation_sweep.py --scale 4        # four times as many pieces per group

Prints per-group counts of pieces preserved exactly through excerpt -> NotaGen ABC -> excerpt,
then each failure with its cause. No timed assertions: this is for docs/notation_sweep.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.notation_sweep_pieces import (check_piece, corpus_pieces, musescore_demo_pieces,  # noqa: E402
                                         summary, temporary_workdir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="pieces per group relative to the CI sweep")
    parser.add_argument("--no-demos", action="store_true", help="skip MuseScore's demo scores")
    args = parser.parse_args()
    pieces = corpus_pieces(args.scale) + ([] if args.no_demos else musescore_demo_pieces(temporary_workdir()))
    start = time.perf_counter()
    outcomes = []
    for piece in pieces:
        outcome = check_piece(piece)
        outcomes.append(outcome)
        print(f"{'ok  ' if outcome.ok else 'FAIL'} {piece.group:16} {piece.name:60} {outcome.seconds:6.2f}s", flush=True)
    print(summary(outcomes))
    print(f"{len(pieces)} pieces in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
