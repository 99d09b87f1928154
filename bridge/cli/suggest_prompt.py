"""`notabridge suggest-prompt score.musicxml --measures A-B`: the model's prompts that fit the bars best."""
from __future__ import annotations

import argparse
import json
import time

from notabridge.cli.main import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "Every prompt of the model (its prompts.json) is put before the selected bars, and the bars'\n"
        "log-likelihood under each is computed in one batched pass; the likeliest prompts come first.\n"
        "Use the one you like with --prompt \"PERIOD|COMPOSER|INSTRUMENTATION\" in generate or continue.")
    parser.add_argument("score", help="the score: .musicxml/.xml/.mxl, .mid, .abc or excerpt .json")
    parser.add_argument("--measures", metavar="A-B", help="printed measure numbers to name the style of (default: the whole score)")
    parser.add_argument("--staves", metavar="I,J", help="0-based staff indices to read (default: all)")
    parser.add_argument("--top", type=int, default=3, metavar="N", help="how many prompts to show (default 3)")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle folder (default: the embedded model)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="execution provider (default auto)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.load_engine import load_engine
    from notabridge.cli.score_range import parse_staves, read_score_range
    from notabridge.errors import JobError
    from notabridge.jobs.suggest import suggest

    if args.top < 1:
        raise UserError("--top must be at least 1")
    score, start, end = read_score_range(args.score, args.measures)
    staves = [s["index"] for s in score["staves"]] if args.staves is None else parse_staves(args.staves, score)
    score["selection"] = {"start": start, "end": end, "staves": staves}
    engine = load_engine(args.model, args.device)
    began = time.perf_counter()
    try:
        result = suggest(engine, score, top=args.top)
    except JobError as exc:
        raise UserError(str(exc)) from None
    seconds = time.perf_counter() - began
    if args.json:
        print(json.dumps(result | {"seconds": seconds}))
        return 0
    for warning in result["warnings"]:
        print(f"warning: {warning}")
    n = result["prompts_ranked"]
    print(f"{result['bars_scored']} bars scored under {n} prompts in {seconds:.2f} s "
          f"(a random pick would be in the top {args.top} {min(args.top, n) / n:.0%} of the time):")
    for rank, item in enumerate(result["suggestions"], 1):
        print(f"{rank}. {item['period']}|{item['composer']}|{item['instrumentation']}  "
              f"log-likelihood {item['log_likelihood']:.1f} nats ({item['bits_per_char']:.3f} bits/char)")
    return 0
