"""Measure ranges: cut a range (with context before it) out of an excerpt; splice measures back in."""
from __future__ import annotations

from .errors import NotationError
from .excerpt_base import copy_excerpt, measure_length, rest_event


def cut_measures(excerpt: dict, start: int, end: int, context: int = 0, staves: list[int] | None = None) -> dict:
    """Measures with index start..end-1 plus up to `context` measures before them.

    Indices stay those of the whole score; `selection` records start, end and the staves.
    """
    indices = [m["index"] for m in excerpt["measures"]]
    if not indices:
        raise NotationError("the excerpt has no measures")
    if start >= end:
        raise NotationError(f"empty measure range {start}..{end - 1}")
    if start < indices[0] or end - 1 > indices[-1]:
        raise NotationError(f"measures {start}..{end - 1} are outside the score (measures {indices[0]}..{indices[-1]})")
    first = max(indices[0], start - max(0, context))
    out = copy_excerpt({k: v for k, v in excerpt.items() if k != "measures"})
    out["measures"] = copy_excerpt({"m": [m for m in excerpt["measures"] if first <= m["index"] < end]})["m"]
    out["selection"] = {"start": start, "end": end,
                        "staves": list(staves) if staves is not None else [s["index"] for s in excerpt["staves"]]}
    return out


def indices_for_numbers(excerpt: dict, first_number: int, last_number: int) -> tuple[int, int]:
    """Printed measure numbers first..last (inclusive) -> (start index, end index exclusive). A number
    borne by several measures (a bar split in two, "4" and "4a") starts at its first and ends after its last."""
    first_of: dict[int, int] = {}
    last_of: dict[int, int] = {}
    for m in excerpt["measures"]:
        number = m.get("number", m["index"] + 1)
        first_of.setdefault(number, m["index"])
        last_of[number] = m["index"]
    if first_number not in first_of or last_number not in first_of:
        known = sorted(first_of)
        raise NotationError(f"measures {first_number}-{last_number} not found (the score has measures {known[0]}-{known[-1]})")
    start, last = first_of[first_number], last_of[last_number]
    if last < start:
        raise NotationError(f"measure range {first_number}-{last_number} runs backwards")
    return start, last + 1


def _full_rest_staff(staff: int, length) -> dict:
    return {"staff": staff, "voices": [{"voice": 0, "events": [rest_event(length)]}]}


def splice_measures(score: dict, new: dict, mode: str = "infill", at: int | None = None) -> dict:
    """Put `new`'s measures into `score` and return the result (neither input is changed).

    infill: each new measure replaces the staves it holds in the score measure with the same
    index; the other staves of that measure are kept.
    continue: the new measures are inserted before index `at` (default: right after the
    score's selection, else at the end); later measures move back; staves the new measures do
    not hold get rests.
    """
    result = copy_excerpt(score)
    incoming = copy_excerpt(new)["measures"]
    if not incoming:
        return result
    known_staves = {s["index"] for s in result["staves"]}
    for m in incoming:
        for staff in m["staves"]:
            if staff["staff"] not in known_staves:
                raise NotationError(f"measure {m['index']} writes staff {staff['staff']}, which the score does not have")
    if mode == "infill":
        by_index = {m["index"]: m for m in result["measures"]}
        for m in incoming:
            target = by_index.get(m["index"])
            if target is None:
                raise NotationError(f"measure index {m['index']} is not in the score")
            if measure_length(m) != measure_length(target):
                raise NotationError(f"measure {m['index']}: the new measure lasts {measure_length(m)}, the score's {measure_length(target)}")
            replaced = {s["staff"]: s for s in m["staves"]}
            target["staves"] = [replaced.pop(s["staff"], s) for s in target["staves"]] + list(replaced.values())
            target["staves"].sort(key=lambda s: s["staff"])
        return result
    if mode != "continue":
        raise NotationError(f"unknown splice mode {mode!r} (use 'infill' or 'continue')")
    measures = result["measures"]
    if at is None:
        sel = result.get("selection")
        at = sel["end"] if sel else (measures[-1]["index"] + 1 if measures else 0)
    position = next((i for i, m in enumerate(measures) if m["index"] >= at), len(measures))
    if position == 0 and measures and measures[0]["index"] != at:
        raise NotationError(f"cannot insert at measure index {at}: the score starts at {measures[0]['index']}")
    previous_number = measures[position - 1].get("number", at) if position > 0 else at
    inserted = []
    for k, m in enumerate(incoming):
        m["index"] = at + k
        m["number"] = previous_number + 1 + k
        present = {s["staff"] for s in m["staves"]}
        for staff in known_staves - present:
            m["staves"].append(_full_rest_staff(staff, measure_length(m)))
        m["staves"].sort(key=lambda s: s["staff"])
        inserted.append(m)
    for m in measures[position:]:
        m["index"] += len(inserted)
        if isinstance(m.get("number"), int):
            m["number"] += len(inserted)
    result["measures"] = measures[:position] + inserted + measures[position:]
    return result
