"""`notabridge infill score.musicxml --measures A-B [--staves I,J] -o out.musicxml`: rewrite a range.

The model writes new bars for measures A-B between the music before and after them; with
--staves only those staves are rewritten and the others are kept as given (the model writes
around them). From a MusicXML file to a MusicXML file only those notes change in a copy of the
user's own file (notabridge.cli.score_job)."""
from __future__ import annotations

import argparse

from notabridge.cli.generate import add_range_argument, add_sampling_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("score", help="the score: .musicxml/.xml/.mxl, .mid, .abc or excerpt .json")
    parser.add_argument("--measures", metavar="A-B", required=True,
                        help="printed measure numbers to rewrite (inclusive), e.g. 5-8")
    parser.add_argument("--staves", metavar="I,J", help="0-based staves to rewrite (default: all); the others are kept")
    parser.add_argument("--prompt", metavar="PERIOD|COMPOSER|INSTRUMENTATION", help="style prompt (default: none)")
    add_range_argument(parser)
    add_sampling_arguments(parser, bars=False)


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.score_job import run_on_score

    return run_on_score(args, "infill", args.staves)
