"""Infill and accompany on a score file: the model rewrites staves of a measure range, and the
result goes back into a copy of the user's own file.

From a MusicXML file to a MusicXML file, only the notes of the written staves in the range change
(notabridge.notation.musicxml_splice.splice_infill): every other staff, the range's dynamics,
text, chord symbols and lyrics of the other staves, and everything outside the range stay as
they were. Another output format says what it cannot hold.
"""
from __future__ import annotations

import argparse

from notabridge.cli.main import UserError


def run_on_score(args: argparse.Namespace, mode: str, staves_text: str | None) -> int:
    """Run `mode` ("infill" or "accompany") on args.score's --measures; staves_text: the 0-based
    staves to write ("1,2"; infill: default all, accompany: required)."""
    from notabridge.cli.accompany import parse_prompt
    from notabridge.cli.generate import check_output, sampling_from
    from notabridge.cli.score_range import parse_staves, read_score_range
    from notabridge.cli.write_back import run_and_write
    from notabridge.jobs.compose import ComposeJob
    from notabridge.notation.musicxml_splice import splice_infill

    prompt = parse_prompt(args.prompt)
    check_output(args.output)
    score, start, end = read_score_range(args.score, args.measures)
    everything = [s["index"] for s in score["staves"]]
    if staves_text is None and mode == "accompany":
        raise UserError("accompany on a score needs --staves: the 0-based staves to write (the others are given), "
                        f"e.g. --staves {','.join(map(str, everything[1:])) or '1'}")
    written = everything if staves_text is None else parse_staves(staves_text, score)
    if mode == "accompany" and set(written) >= set(everything):
        raise UserError("accompany writes some staves around the others: leave at least one staff out of --staves")
    score["selection"] = {"start": start, "end": end, "staves": written}
    job = ComposeJob(mode=mode, excerpt=score, prompt=prompt, sampling=sampling_from(args), variants=args.variants,
                     staves=written, range_rule=not args.no_range_rule)
    return run_and_write(job, args, score, lambda measures: splice_infill(args.score, score, measures, written),
                         splice_mode="infill")
