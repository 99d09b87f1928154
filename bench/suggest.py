"""Style suggestion on held-out pieces whose prompt is known: is the true prompt in the top 3?

The pieces are the embedded model's validation pieces (training.corpus's split by piece id,
rebuilt by training.heldout, or read from a corpus folder with --corpus): for each, the header
and its first 8 bars are ranked under every prompt of the bundle (notabridge.jobs.suggest, one batched
pass); pieces whose prompt the bundle does not list are skipped. Prints top-1 / top-3 accuracy
per prompt and overall, against chance (k / number of prompts), and the time per piece: wall
clock and this process's CPU time (the machine is shared; CPU time is what the work costs),
with the ratio to the baseline measured in the same run: the same bars scored under ONE prompt
by the plain scorer (notabridge.engine.scoring.score_abc), what a single likelihood costs.

    python bench/suggest.py [--model BUNDLE] [--corpus work_data/corpus] [--bars 8] [--limit 0]

Targets (issue 18): true prompt in the top 3 for >= 70% of pieces; < 2 s for 8 bars.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def first_bars(abc: str, bars: int) -> str:
    lines = [line for line in abc.split("\n") if line]
    start = next(i for i, line in enumerate(lines) if line.startswith("[V:"))
    return "\n".join(lines[:start + bars]) + "\n"


PATHS = ("excerpt", "abc")
PATH_NAMES = {"excerpt": "excerpt path (what a score from MuseScore goes through)",
              "abc": "corpus ABC (the text the model was trained on)"}


def excerpt_text(abc: str) -> str:
    """The bars as a user's score would reach the model: ABC -> excerpt JSON -> ABC again
    (notabridge.notation; minor modes, fermatas and the %%score bracketing do not survive)."""
    from notabridge.notation import abc_to_excerpt
    from notabridge.jobs.suggest import selection_abc

    excerpt = abc_to_excerpt(abc, first_index=0)
    excerpt["selection"] = {"start": 0, "end": len(excerpt["measures"]), "staves": [s["index"] for s in excerpt["staves"]]}
    return selection_abc(excerpt)


def _share(rows: list[tuple[bool, bool]], column: int) -> float:
    return sum(row[column] for row in rows) / len(rows) if rows else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="bundle folder (default: the embedded model)")
    p.add_argument("--corpus", help="a training.corpus folder to read validation.jsonl from (default: convert now)")
    p.add_argument("--bars", type=int, default=8)
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--limit", type=int, default=0, help="at most this many pieces (0 = all)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: physical cores)")
    args = p.parse_args(argv)

    from notabridge.engine.bundle import load_bundle
    from notabridge.engine.runtime import Runner
    from notabridge.engine.scoring import score_abc
    from notabridge.abc.prompt import prompt_text
    from notabridge.jobs.suggest import rank_prompts
    from training.heldout import validation_pieces

    bundle = load_bundle(args.model, device="cpu", threads=args.threads)
    runner = Runner(bundle)
    prompts = [tuple(x) for x in bundle.prompts]
    pieces = [r for r in validation_pieces(args.corpus, args.limit) if tuple(r["prompt"]) in prompts]
    if not pieces:
        print("no held-out piece has a prompt of this bundle")
        return 1
    print(f"{len(pieces)} held-out pieces, {len(prompts)} prompts, first {args.bars} bars of each")
    hits = {path: defaultdict(list) for path in PATHS}
    wall, cpu, base_wall, base_cpu = [], [], [], []
    for rec in pieces:
        text = first_bars(rec["abc"], args.bars)
        truth = tuple(rec["prompt"])
        t0, c0 = time.perf_counter(), time.process_time()
        ranked = {"excerpt": rank_prompts(runner, prompts, excerpt_text(text))[0]}
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        ranked["abc"] = rank_prompts(runner, prompts, text)[0]
        t0, c0 = time.perf_counter(), time.process_time()
        score_abc(bundle, prompt_text(truth) + text)
        base_wall.append(time.perf_counter() - t0)
        base_cpu.append(time.process_time() - c0)
        for path in PATHS:
            order = [s.prompt for s in ranked[path]]
            hits[path][" / ".join(truth)].append((order[0] == truth, truth in order[:args.top]))

    k = args.top
    print(f"\n{'prompt':58s} {'pieces':>6s} | excerpt path: top-1 top-{k} | corpus ABC: top-1 top-{k}")
    for name in sorted(hits["abc"], key=lambda n: -len(hits["abc"][n])):
        cells = [f"{_share(hits[path][name], 0):6.0%} {_share(hits[path][name], 1):6.0%}" for path in PATHS]
        print(f"{name[:58]:58s} {len(hits['abc'][name]):6d} |        {cells[0]}     |      {cells[1]}")
    totals = {path: [row for rows in hits[path].values() for row in rows] for path in PATHS}
    cells = [f"{_share(totals[path], 0):6.0%} {_share(totals[path], 1):6.0%}" for path in PATHS]
    print(f"{'all pieces':58s} {len(totals['abc']):6d} |        {cells[0]}     |      {cells[1]}")
    print(f"chance: top-1 {1 / len(prompts):.0%}, top-{k} {k / len(prompts):.0%}")
    for path in PATHS:
        macro = statistics.mean(_share(rows, 1) for rows in hits[path].values())
        print(f"{PATH_NAMES[path]}: top-{k} {_share(totals[path], 1):.0%} of pieces ({macro:.0%} averaged over prompts); "
              f"target >= 70%: {'met' if _share(totals[path], 1) >= 0.7 else 'NOT met'}")

    med = statistics.median
    print(f"\ntime per piece on the excerpt path ({args.bars} bars, {len(prompts)} prompts, excerpt -> ABC included): wall median {med(wall):.2f} s, "
          f"max {max(wall):.2f} s; CPU median {med(cpu):.2f} s, max {max(cpu):.2f} s")
    print(f"baseline (one prompt, plain scorer): wall median {med(base_wall):.2f} s, CPU median {med(base_cpu):.2f} s; "
          f"ratio suggest / one prompt: wall {med(wall) / med(base_wall):.1f}x, CPU {med(cpu) / med(base_cpu):.1f}x "
          f"(naive: {len(prompts)}x)")
    print(f"target: < 2 s for {args.bars} bars: {'met' if med(wall) < 2 else 'NOT met'} on wall clock, "
          f"{'met' if med(cpu) < 2 else 'NOT met'} on CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
