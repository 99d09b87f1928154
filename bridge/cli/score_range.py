"""Reading a score file and the measure range and staves a command works on (--measures, --staves)."""
from __future__ import annotations

from pathlib import Path

from notabridge.cli.main import UserError


def parse_measures(text: str) -> tuple[int, int]:
    """'5-12' (printed measure numbers, inclusive) -> (5, 12); '7' -> (7, 7)."""
    first, sep, last = text.partition("-")
    try:
        a, b = int(first), int(last if sep else first)
    except ValueError:
        raise UserError(f"--measures {text!r}: use two printed measure numbers like 1-8") from None
    if b < a:
        raise UserError(f"--measures {text}: the range runs backwards")
    return a, b


def parse_staves(text: str, score: dict) -> list[int]:
    """'0,2' -> [0, 2]: 0-based staff indices the score has."""
    known = {s["index"] for s in score["staves"]}
    try:
        staves = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--staves {text!r}: give staff indices like 0,1") from None
    unknown = [s for s in staves if s not in known]
    if not staves or unknown:
        raise UserError(f"--staves {text}: the score has staves {sorted(known)}")
    return staves


def read_score_range(path: str, measures: str | None) -> tuple[dict, int, int]:
    """(the score's excerpt, first measure index, end index) for printed measures A-B (default:
    the whole score); every problem is a UserError naming the file."""
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
