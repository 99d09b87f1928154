"""The part names a bundle's generate mode may write: the `nm="..."` names of the training
headers, kept when at least `--min-pieces` pieces use them and they are plain printable text.

    python -m training.part_names CORPUS_DIR BUNDLE_DIR [--min-pieces 2]

Writes BUNDLE_DIR/part_names.json (the engine masks each generated `nm="` to these names).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

_NAME = re.compile(r' nm="([^"]*)"')


def names_of(abc_text: str) -> set[str]:
    """The part names the header's V: lines give."""
    return {m.group(1) for line in abc_text.split("\n") if line.startswith("V:") for m in _NAME.finditer(line)}


def part_names(pieces: list[str], min_pieces: int = 2) -> list[str]:
    """Names used by at least `min_pieces` of `pieces` (ABC texts), printable ASCII without
    backslashes (the corpus holds a few escaped line breaks that are no name), most used first."""
    counts = Counter(name for text in pieces for name in names_of(text))
    keep = [n for n, c in counts.items() if c >= min_pieces and n and n.isascii() and n.isprintable() and "\\" not in n]
    return sorted(keep, key=lambda n: (-counts[n], n))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.part_names", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path, help="corpus directory with train.jsonl (python -m training.corpus)")
    ap.add_argument("bundle", type=Path, help="bundle directory to write part_names.json into")
    ap.add_argument("--min-pieces", type=int, default=2)
    args = ap.parse_args(argv)
    with open(args.corpus / "train.jsonl") as f:
        pieces = [json.loads(line)["abc"] for line in f if line.strip()]
    names = part_names(pieces, args.min_pieces)
    (args.bundle / "part_names.json").write_text(json.dumps(names, indent=0) + "\n")
    print(f"{len(names)} part names from {len(pieces)} training pieces -> {args.bundle / 'part_names.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
