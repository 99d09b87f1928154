"""`notabridge continue score.musicxml --measures A-B --bars N -o out.musicxml`: new bars after a range."""
from __future__ import annotations

import argparse
from pathlib import Path

from notabridge.cli.main import UserError
from notabridge.cli.generate import add_sampling_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("score", help="the score: .musicxml/.xml/.mxl, .mid, .abc or excerpt .json")
    parser.add_argument("--measures", metavar="A-B",
                        help="printed measure numbers to continue from (the new bars go after B; default: the whole score)")
    parser.add_argument("--prompt", metavar="PERIOD|COMPOSER|INSTRUMENTATION", help="style prompt (default: none)")
    add_sampling_arguments(parser)


def parse_measures(text: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    try:
        a, b = int(first), int(last if sep else first)
    except ValueError:
        raise UserError(f"--measures {text!r}: use two printed measure numbers like 1-8") from None
    if b < a:
        raise UserError(f"--measures {text}: the range runs backwards")
    return a, b


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.accompany import parse_prompt
    from notabridge.cli.generate import check_output, run_job, sampling_from, write_variants
    from notabridge.jobs.compose import ComposeJob
    from notabridge.notation import NotationError, indices_for_numbers, read_excerpt

    prompt = parse_prompt(args.prompt)
    check_output(args.output)
    if not Path(args.score).is_file():
        raise UserError(f"{args.score}: no such file")
    try:
        score = read_excerpt(args.score)
        if not score["measures"]:
            raise UserError(f"{args.score} has no measures")
        if args.measures:
            start, end = indices_for_numbers(score, *parse_measures(args.measures))
        else:
            start, end = score["measures"][0]["index"], score["measures"][-1]["index"] + 1
    except NotationError as exc:
        raise UserError(f"{args.score}: {exc}") from None
    score["selection"] = {"start": start, "end": end, "staves": [s["index"] for s in score["staves"]]}
    job = ComposeJob(mode="continue", excerpt=score, bars=args.bars, prompt=prompt, sampling=sampling_from(args),
                     variants=args.variants)
    result = run_job(job, args)
    write_variants(result, args.output, prompt, score=score, splice_at=end)
    return 0
