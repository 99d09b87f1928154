"""`notabridge finetune` on a repertoire the embedded model never saw, measured on other pieces of it.

The pieces: Chinese (Han) folk songs of the Essen collection (music21's essenFolksong/han1.abc)
that the corpus run never picked (training.corpus.make_tasks samples 600 tunes per folk
collection; these are outside that sample, so neither trained on nor held out). No composer
with 30+ pieces outside the training data ships with music21, so a repertoire stands in for a
composer. 30 tunes are the user's folder; 15 others are the held-out test. Measured:

- bits/char of the 15 test tunes: base model (no prompt; and its best prompt) vs the fine-tuned
  model with the new prompt (target: down >= 10%);
- suggest-prompt top-1 on their first 8 bars with the fine-tuned bundle (target: the new style);
- training wall time (target: < 20 min on this CPU; --minutes sets the budget).

    python bench/finetune.py [--minutes 15] [--train 30] [--test 15] [--out work_data/finetune_bench]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROMPT = ("Folk", "Han folk songs", "Melody")


def unseen_tunes(n: int) -> list[str]:
    """ABC texts of han1.abc tunes outside the corpus run's sample."""
    from training.corpus import corpus_root, make_tasks, split_tunes

    root = corpus_root()
    sampled = {(t.path, i) for t in make_tasks(root, 600) if t.tunes for i in t.tunes}
    path = "essenFolksong/han1.abc"
    tunes = split_tunes((root / path).read_text(encoding="utf-8", errors="replace"))
    return [text for i, text in enumerate(tunes) if (path, i) not in sampled][:n]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=15.0)
    p.add_argument("--train", type=int, default=30)
    p.add_argument("--test", type=int, default=15)
    p.add_argument("--out", default=str(ROOT / "work_data" / "finetune_bench"))
    args = p.parse_args(argv)

    from bench.suggest import first_bars
    from notabridge.engine.bundle import DEFAULT_BUNDLE, load_bundle
    from notabridge.cli.main import main as cli
    from notabridge.engine.runtime import Runner
    from notabridge.jobs.suggest import rank_prompts
    from training.finetune import held_out_bits, training_abc

    out = Path(args.out)
    folder = out / "my_pieces"
    folder.mkdir(parents=True, exist_ok=True)
    tunes = unseen_tunes(args.train + args.test)
    for i, text in enumerate(tunes[:args.train]):
        (folder / f"han_{i:02d}.abc").write_text(text)
    test_dir = out / "test_pieces"
    test_dir.mkdir(exist_ok=True)
    test = []
    for i, text in enumerate(tunes[args.train:]):
        path = test_dir / f"han_test_{i:02d}.abc"
        path.write_text(text)
        try:
            test.append({"id": path.name, "abc": training_abc(path)})
        except Exception as exc:  # noqa: BLE001
            print(f"test tune {path.name} skipped: {exc}")
    print(f"{args.train} tunes to fine-tune on, {len(test)} test tunes (han1.abc, outside the corpus sample)")

    bundle_out = out / "bundle"
    started = time.perf_counter()
    code = cli(["finetune", str(folder), "--name", PROMPT[1], "--period", PROMPT[0], "--instrumentation", PROMPT[2],
                "-o", str(bundle_out), "--minutes", str(args.minutes)])
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
    top1 = []
    for rec in test:
        ranked, _ = rank_prompts(runner, prompts, first_bars(rec["abc"], 8))
        top1.append(ranked[0].prompt == PROMPT)
    print(f"suggest-prompt top-1 is the new style for {sum(top1)} of {len(top1)} test tunes "
          f"({statistics.mean(top1):.0%}; chance {1 / len(prompts):.0%})")
    print(f"finetune command wall time {wall / 60:.1f} min with --minutes {args.minutes:g} "
          f"(target: < 20 min on this CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
