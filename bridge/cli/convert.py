"""`notabridge convert IN OUT [--measures A-B]`: any supported score format to any other.

Formats by extension: .musicxml/.xml, .mxl, .mid/.midi, .abc (NotaGen interleaved ABC; with
--plain standard ABC, one block per voice), .json (excerpt JSON); Humdrum .krn and MEI .mei are
read through music21. MusicXML (kern, MEI) -> ABC runs NotaGen's training-data chain on the file
itself, so the text is exactly what NotaGen's training has for the score; other pairs go through
excerpt JSON.
Anything simplified on the way (grace notes, percussion, ...) is reported on stderr.
"""
from __future__ import annotations

import argparse
import re
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="score to read (.musicxml .xml .mxl .mid .abc .json .krn .mei)")
    parser.add_argument("output", help="file to write; its extension chooses the format")
    parser.add_argument("--measures", metavar="A-B", help="only printed measure numbers A to B (inclusive)")
    parser.add_argument("--context", type=int, default=0, metavar="N",
                        help="with --measures: also keep N measures before A (default 0)")
    parser.add_argument("--prompt", nargs=3, metavar=("PERIOD", "COMPOSER", "INSTRUMENTATION"),
                        help="with .abc output: NotaGen's three prompt lines")
    parser.add_argument("--plain", action="store_true",
                        help="with .abc output: standard ABC, one block per voice (music21, abcjs), not NotaGen's text")


def _range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if not match:
        raise ValueError(text)
    first = int(match.group(1))
    return first, int(match.group(2)) if match.group(2) is not None else first


def _measures(args: argparse.Namespace) -> tuple[int, int] | None:
    from notabridge.cli.main import UserError

    if not args.measures:
        return None
    try:
        return _range(args.measures)
    except ValueError:
        raise UserError(f"--measures {args.measures!r}: write it as A-B, e.g. --measures 5-12") from None


def _musicxml_to_abc(args: argparse.Namespace) -> list[str]:
    """MusicXML -> ABC straight through NotaGen's chain on the user's file (nothing re-encoded)."""
    from pathlib import Path

    from notabridge.notation import NotationError
    from notabridge.notation.abc_export import musicxml_to_abc

    if not Path(args.input).is_file():
        raise NotationError(f"no such file: {args.input}")
    warnings: list[str] = []
    text = musicxml_to_abc(args.input, prompt=args.prompt, measures=_measures(args), context=args.context,
                           warnings=warnings)
    if args.plain:
        from notabridge.notation.abc_plain import plain_abc

        text = plain_abc(text, Path(args.input).stem)
    Path(args.output).write_text(text, encoding="utf-8")
    return warnings


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.main import UserError
    from notabridge.notation import NotationError, cut_measures, indices_for_numbers, read_excerpt, write_excerpt
    from notabridge.notation.files import SCORE_FILES, file_format

    from notabridge.cli.output_path import check_output_path

    check_output_path(args.output, "output")
    try:
        if args.plain and file_format(args.output) != "abc":
            raise UserError("--plain is for .abc output")
        if file_format(args.input) in SCORE_FILES and file_format(args.output) == "abc":
            warnings = _musicxml_to_abc(args)
        else:
            excerpt = read_excerpt(args.input)
            measures = _measures(args)
            if measures:
                start, end = indices_for_numbers(excerpt, *measures)
                excerpt = cut_measures(excerpt, start, end, context=args.context)
            warnings = list(excerpt.get("warnings", []))
            warnings += write_excerpt(excerpt, args.output, prompt=args.prompt, plain=args.plain)
    except NotationError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{exc.filename or ''}: {exc.strerror or exc}") from None
    for warning in dict.fromkeys(warnings):
        print(f"warning: {warning}", file=sys.stderr)
    return 0
