"""A score file and a measure range from the command line: what `continue` and `suggest-prompt` read."""
from __future__ import annotations

from pathlib import Path

from notabridge.cli.main import UserError


def parse_measures(text: str) -> tuple[int, int]:
    """`--measures A-B` (or `A`) -> printed measure numbers (A, B)."""
    first, sep, last = text.partition("-")
    try:
        a, b = int(first), int(last if sep else first)
    except ValueError:
        raise UserError(f"--measures {text!r}: use two printed measure numbers like 1-8") from None
    if b < a:
        raise UserError(f"--measures {text}: the range runs backwards")
    return a, b


def read_score_range(path: str, measures: str | None) -> tuple[dict, int, int]:
    """The score as an excerpt and the measure indices [start, end) of `--measures` (default: all
    of it); a missing, unreadable or empty file or a range it lacks is a UserError that says so."""
    from notabridge.notation import NotationError, indices_for_numbers, read_excerpt

    if not Path(path).is_file():
        raise UserError(f"{path}: no such file")
    try:
        score = read_excerpt(path)
        if not score["measures"]:
            raise UserError(f"{path} has no measures")
        if measures:
            start, end = indices_for_numbers(score, *parse_measures(measures))
        else:
            start, end = score["measures"][0]["index"], score["measures"][-1]["index"] + 1
    except NotationError as exc:
        raise UserError(f"{path}: {exc}") from None
    return score, start, end
