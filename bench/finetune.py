"""`notabridge finetune` on a repertoire the embedded model never saw, measured on other pieces of it.

The pieces: Chinese (Han) folk songs of the Essen collection (music21's essenFolksong/han1.abc,
554 tunes) that the embedded model never read: outside both corpus runs' samples
(training.corpus.make_tasks samples tunes per folk collection: 600 for the first edition, 1,000
for the second) and, with --corpus, checked against that corpus folder itself: no chosen tune's
id is in its train/validation/failed files and no chosen tune's text (training.corpus.text_digest
of its converted ABC) equals one of its pieces'. No composer with 30+ pieces outside the
training data ships with music21, so a repertoire stands in for a composer. 30 tunes are the
user's folder; 15 others are the held-out test. Measured:

- bits/char of the 15 test tunes: base model (no prompt; and its best prompt) vs the fine-tuned
  model with the new prompt (target: down >= 10%);
- suggest-prompt top-1 on their first 8 bars with the fine-tuned bundle (target: the new style),
  and which prompt wins when it is not the new one;
- the competing prompts (those rehearsed, else the base's best prompt for the test tunes): bits/char
  of their own held-out pieces (the corpus's validation side) under their prompt, before and after
  (the fine-tuning should not make them much worse);
- the finetune command's wall time (target: < 20 min on this CPU; --minutes sets the training budget).

    python bench/finetune.py [--minutes 15] [--train 30] [--test 15] [--corpus work_data/corpus]
                             [--out work_data/finetune_bench] [--no-rehearsal] [--lr LR]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROMPT = ("Folk", "Han folk songs", "Melody")
SOURCE_FILE = "essenFolksong/han1.abc"
PIECE_BASE = "essen/essenFolksong/han1"          # training.corpus's id of a han1 tune: PIECE_BASE#index
SAMPLES = (600, 1000)                            # --folk-per-collection of the first and second edition's corpus
HELD_OUT_PER_PROMPT = 30


def corpus_pieces(corpus: Path) -> tuple[set[str], set[str]]:
    """Ids (train, validation and failed) and text digests (train, validation) of a training.corpus folder."""
    from training.corpus import read_records, text_digest

    ids, digests = set(), set()
    for split in ("train", "validation", "failed"):
        for rec in read_records(corpus / f"{split}.jsonl"):
            ids.add(rec["id"])
            if "abc" in rec:
                digests.add(text_digest(rec["abc"]))
    return ids, digests


def unseen_tunes(n: int, scratch: Path, corpus: Path | None = None) -> list[tuple[str, str, str]]:
    """(id, tune text, converted ABC) of `n` han1.abc tunes the corpus runs never took: outside both
    samples, and with `corpus` not among its ids nor texts; no two with the same text."""
    from training.corpus import corpus_root, make_tasks, split_tunes, text_digest
    from training.finetune import training_abc

    root = corpus_root()
    sampled = {(t.path, i) for size in SAMPLES for t in make_tasks(root, size) if t.tunes for i in t.tunes}
    ids, digests = corpus_pieces(corpus) if corpus else (set(), set())
    tunes = split_tunes((root / SOURCE_FILE).read_text(encoding="utf-8", errors="replace"))
    scratch.mkdir(parents=True, exist_ok=True)
    out, taken, refused = [], set(), Counter()
    for i, text in enumerate(tunes):
        piece_id = f"{PIECE_BASE}#{i}"
        if (SOURCE_FILE, i) in sampled or piece_id in ids:
            refused["in a corpus sample"] += 1
            continue
        path = scratch / "tune.abc"
        path.write_text(text)
        try:
            abc = training_abc(path)
        except Exception:  # noqa: BLE001 - a tune the chain cannot read is simply not used
            refused["unreadable"] += 1
            continue
        digest = text_digest(abc)
        if digest in digests or digest in taken:
            refused["same text as a corpus piece or a chosen tune"] += 1
            continue
        taken.add(digest)
        out.append((piece_id, text, abc))
        if len(out) == n:
            break
    print(f"han1.abc: {len(out)} tunes chosen; passed over: {dict(refused)}"
          + (f"; checked against {corpus}" if corpus else "; no --corpus: checked against the samples only"))
    return out


def check_unseen(chosen: list[tuple[str, str, str]], corpus: Path) -> int:
    """How many chosen tunes' ids or texts occur in the corpus folder (must be 0)."""
    from training.corpus import text_digest

    ids, digests = corpus_pieces(corpus)
    return sum(piece_id in ids or text_digest(abc) in digests for piece_id, _, abc in chosen)


def held_out_of(prompt: tuple[str, str, str], corpus: Path | None, limit: int = HELD_OUT_PER_PROMPT) -> list[dict]:
    """Held-out pieces of one base prompt: the corpus's validation side (read, or converted now)."""
    from training.corpus import corpus_root, is_validation, run_task
    from training.heldout import VALIDATION_SHARE, validation_pieces, validation_tasks

    if corpus:
        return [r for r in validation_pieces(corpus) if tuple(r["prompt"]) == prompt][:limit]
    out: list[dict] = []
    for task in (t for t in validation_tasks() if t.source.prompt == prompt):
        out += [r for r in run_task((task, str(corpus_root()), 0, 0))
                if "error" not in r and is_validation(r["id"], VALIDATION_SHARE)]
        if len(out) >= limit:
            break
    return out[:limit]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--train", type=int, default=30)
    p.add_argument("--test", type=int, default=15)
    p.add_argument("--corpus", help="the base model's training.corpus folder: the tunes are checked against it and "
                                    "the competing prompts' held-out pieces are read from it")
    p.add_argument("--out", default=str(ROOT / "work_data" / "finetune_bench"))
    p.add_argument("--no-rehearsal", action="store_true", help="fine-tune on the user's pieces only")
    p.add_argument("--lr", type=float, help="the finetune command's --lr (default: its own)")
    args = p.parse_args(argv)

    from bench.suggest import first_bars
    from notabridge.engine.bundle import DEFAULT_BUNDLE, load_bundle
    from notabridge.cli.main import main as cli
    from notabridge.engine.runtime import Runner
    from notabridge.jobs.suggest import rank_prompts
    from training.finetune import held_out_bits

    out = Path(args.out)
    corpus = Path(args.corpus) if args.corpus else None
    folder = out / "my_pieces"
    folder.mkdir(parents=True, exist_ok=True)
    chosen = unseen_tunes(args.train + args.test, out / "scratch", corpus)
    if corpus:
        found = check_unseen(chosen, corpus)
        print(f"chosen tunes whose id or text occurs in {corpus}/train.jsonl, validation.jsonl or failed.jsonl: {found}")
        if found:
            return 1
    for i, (_, text, _) in enumerate(chosen[:args.train]):
        (folder / f"han_{i:02d}.abc").write_text(text)
    test = [{"id": piece_id, "abc": abc} for piece_id, _, abc in chosen[args.train:]]
    print(f"{args.train} tunes to fine-tune on, {len(test)} test tunes (han1.abc, never in the corpus)")

    bundle_out = out / "bundle"
    started = time.perf_counter()
    code = cli(["finetune", str(folder), "--name", PROMPT[1], "--period", PROMPT[0], "--instrumentation", PROMPT[2],
                "-o", str(bundle_out), "--minutes", str(args.minutes)]
               + (["--no-rehearsal"] if args.no_rehearsal else []) + (["--lr", str(args.lr)] if args.lr else []))     # rehearsal as a user gets it: from music21
    wall = time.perf_counter() - started
    if code:
        return code

    base_none = held_out_bits(DEFAULT_BUNDLE, test, None)
    base = load_bundle(None, device="cpu")
    per_prompt = {tuple(pr): held_out_bits(DEFAULT_BUNDLE, test, tuple(pr)) for pr in base.prompts}
    best_prompt = min(per_prompt, key=per_prompt.get)
    tuned = held_out_bits(bundle_out, test, PROMPT)
    print(f"\ntest tunes, bits/char: base model no prompt {base_none:.3f}; base with its best prompt "
          f"({' / '.join(best_prompt)}) {per_prompt[best_prompt]:.3f}; fine-tuned with {' / '.join(PROMPT)} {tuned:.3f}")
    reference = min(base_none, per_prompt[best_prompt])
    change = (tuned - reference) / reference
    print(f"change against the better base number: {change:+.1%} (target: -10% or lower: {'met' if change <= -0.10 else 'NOT met'})")

    new = load_bundle(bundle_out, device="cpu")
    runner, prompts = Runner(new), [tuple(x) for x in new.prompts]
    winners = Counter()
    for rec in test:
        ranked, _ = rank_prompts(runner, prompts, first_bars(rec["abc"], 8))
        winners[ranked[0].prompt] += 1
    print(f"suggest-prompt top-1 is the new style for {winners[PROMPT]} of {len(test)} test tunes "
          f"({winners[PROMPT] / len(test):.0%}; chance {1 / len(prompts):.0%}); top-1 otherwise: "
          + (", ".join(f"{' / '.join(pr)} {n}" for pr, n in winners.most_common() if pr != PROMPT) or "none"))

    job = json.loads((bundle_out / ".finetune" / "job.json").read_text())
    competing = [tuple(pr) for pr in job.get("rehearsal", {}).get("prompts", [])] or [best_prompt]
    for pr in competing:
        pieces = held_out_of(pr, corpus)
        before, after = held_out_bits(DEFAULT_BUNDLE, pieces, pr), held_out_bits(bundle_out, pieces, pr)
        print(f"competing prompt {' / '.join(pr)}: its {len(pieces)} held-out pieces under it, bits/char "
              f"{before:.3f} -> {after:.3f} ({(after - before) / before:+.1%})")
    print(f"finetune command wall time {wall / 60:.1f} min with --minutes {args.minutes:g} "
          f"(target: < 20 min on this CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
