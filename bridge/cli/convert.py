"""`notabridge convert IN OUT [--measures A-B]`: any supported score format to any other.

Formats by extension: .musicxml/.xml, .mxl, .mid/.midi, .abc (NotaGen interleaved ABC), .json
(excerpt JSON v1). Anything simplified on the way (grace notes, percussion, ...) is reported on
stderr.
"""
from __future__ import annotations

import argparse
import re
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="score to read (.musicxml .xml .mxl .mid .abc .json)")
    parser.add_argument("output", help="file to write; its extension chooses the format")
    parser.add_argument("--measures", metavar="A-B", help="only printed measure numbers A to B (inclusive)")
    parser.add_argument("--context", type=int, default=0, metavar="N",
                        help="with --measures: also keep N measures before A (default 0)")
    parser.add_argument("--prompt", nargs=3, metavar=("PERIOD", "COMPOSER", "INSTRUMENTATION"),
                        help="with .abc output: NotaGen's three prompt lines")


def _range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if not match:
        raise ValueError(text)
    first = int(match.group(1))
    return first, int(match.group(2)) if match.group(2) is not None else first


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.main import UserError
    from notabridge.notation import NotationError, cut_measures, indices_for_numbers, read_excerpt, write_excerpt

    from notabridge.cli.output_path import check_output_path

    check_output_path(args.output, "output")
    try:
        excerpt = read_excerpt(args.input)
        if args.measures:
            try:
                first, last = _range(args.measures)
            except ValueError:
                raise UserError(f"--measures {args.measures!r}: write it as A-B, e.g. --measures 5-12") from None
            start, end = indices_for_numbers(excerpt, first, last)
            excerpt = cut_measures(excerpt, start, end, context=args.context)
        warnings = list(excerpt.get("warnings", []))
        warnings += write_excerpt(excerpt, args.output, prompt=args.prompt)
    except NotationError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    for warning in dict.fromkeys(warnings):
        print(f"warning: {warning}", file=sys.stderr)
    return 0
