"""`notabridge continue score.musicxml --measures A-B --bars N -o out.musicxml`: new bars after a range.

From a MusicXML file to a MusicXML file, the new bars are put into a copy of the user's own file
and everything else in it stays (notabridge.notation.musicxml_splice); another output format says
what it cannot hold."""
from __future__ import annotations

import argparse

from notabridge.cli.generate import add_range_argument, add_sampling_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("score", help="the score: .musicxml/.xml/.mxl, .mid, .abc or excerpt .json")
    parser.add_argument("--measures", metavar="A-B",
                        help="printed measure numbers to continue from (the new bars go after B; default: the whole score)")
    parser.add_argument("--prompt", metavar="PERIOD|COMPOSER|INSTRUMENTATION", help="style prompt (default: none)")
    add_range_argument(parser)
    add_sampling_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.accompany import parse_prompt
    from notabridge.cli.generate import check_output, sampling_from
    from notabridge.cli.score_range import read_score_range
    from notabridge.cli.write_back import run_and_write
    from notabridge.jobs.compose import ComposeJob
    from notabridge.notation.files import SCORE_FILES, file_format
    from notabridge.notation.musicxml_splice import splice_continue

    prompt = parse_prompt(args.prompt)
    check_output(args.output)
    score, start, end = read_score_range(args.score, args.measures)
    score["selection"] = {"start": start, "end": end, "staves": [s["index"] for s in score["staves"]]}
    job = ComposeJob(mode="continue", excerpt=score, bars=args.bars, prompt=prompt, sampling=sampling_from(args),
                     variants=args.variants, range_rule=not args.no_range_rule)
    if file_format(args.score) in SCORE_FILES:  # the model reads NotaGen's own text of the file
        job.source_text = score_text(args.score)
    return run_and_write(job, args, score, lambda measures: splice_continue(args.score, score, measures, end),
                         splice_at=end)

def score_text(path: str) -> tuple[list[str], list[str]] | None:
    """NotaGen's text of the score file (header lines, one line per measure), or None when
    NotaGen's chain cannot make it (the excerpt's ABC is used then)."""
    from notabridge.notation import NotationError
    from notabridge.notation.notagen_chain import notagen_chain

    try:
        chain = notagen_chain(path)
    except NotationError:
        return None
    return chain.header, chain.bar_lines()
