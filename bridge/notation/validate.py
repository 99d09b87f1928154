"""Validation of excerpt JSON: the JSON Schema, then the rules a schema cannot say.

Every error is reported as "<path>: <reason>", e.g. "measures[3].staves[0].voices[1]: events
last 3/4 but the measure lasts 1".
"""
from __future__ import annotations

import functools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from .bounds import excerpt_bound_errors
from .durations import parse_fraction
from .errors import NotationError
from .excerpt_base import time_length
from .spelling import consistent

SCHEMA_PATH = Path(__file__).with_name("excerpt.schema.json")


def _inline_refs(node: Any, defs: dict) -> Any:
    # The schema has no recursive references: inlining them once makes validation several times
    # faster than resolving "$ref" for every event of every measure.
    if isinstance(node, dict):
        if set(node) == {"$ref"}:
            return _inline_refs(defs[node["$ref"].split("/")[-1]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text())
    return Draft202012Validator(_inline_refs(schema, schema["$defs"]))


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def validate_excerpt(obj: Any) -> list[str]:
    """All problems of an excerpt, each as "path: reason"; an empty list means valid.

    Numbers outside notabridge.limits.BOUNDS come first; the semantic checks (which do arithmetic
    with those numbers) run only on an excerpt without any of these errors."""
    bounds = excerpt_bound_errors(obj)
    bounded = {e.split(":", 1)[0] for e in bounds}
    schema = [f"{_path(e.absolute_path)}: {e.message}" for e in sorted(_validator().iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]
    errors = bounds + [e for e in schema if e.split(":", 1)[0] not in bounded]   # one message per field
    if errors:
        return errors
    return _semantic_errors(obj)


def quick_errors(obj: Any) -> list[str]:
    """The checks of validate_excerpt without the JSON Schema pass (which costs about as much as
    a whole conversion). A structural problem the quick checks trip over gets the full report."""
    try:
        return excerpt_bound_errors(obj) or _semantic_errors(obj)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError, ZeroDivisionError):
        return validate_excerpt(obj) or ["(root): not an excerpt JSON object"]


def check_excerpt(obj: Any, schema: bool = True) -> dict:
    """The excerpt itself when valid; NotationError listing every problem otherwise.

    `schema=False` runs `quick_errors` (for excerpts made by this package or checked before).
    """
    errors = validate_excerpt(obj) if schema else quick_errors(obj)
    if errors:
        shown = "; ".join(errors[:20]) + (f"; ... ({len(errors) - 20} more)" if len(errors) > 20 else "")
        raise NotationError(f"invalid excerpt JSON: {shown}")
    return obj


def _semantic_errors(obj: dict) -> list[str]:
    # fractions may be unreduced ("2/8" is read as 1/4: MuseScore's are not always reduced)
    errors: list[str] = []
    staff_indices = [s["index"] for s in obj["staves"]]
    part_ids = [p["id"] for p in obj["parts"]]
    if len(set(part_ids)) != len(part_ids):
        errors.append("parts: part ids must be unique")
    if len(set(staff_indices)) != len(staff_indices):
        errors.append("staves: staff indices must be unique")
    known = set(staff_indices)
    for i, part in enumerate(obj["parts"]):
        for s in part["staves"]:
            if s not in known:
                errors.append(f"parts[{i}].staves: staff {s} is not in the staves list")
    for i, staff in enumerate(obj["staves"]):
        if staff["part"] not in part_ids:
            errors.append(f"staves[{i}].part: no part with id {staff['part']!r}")
    for i, group in enumerate(obj.get("groups", [])):
        ends = [group["first"], group["last"]]
        for key, pid in zip(("first", "last"), ends):
            if pid not in part_ids:
                errors.append(f"groups[{i}].{key}: no part with id {pid!r}")
        if all(pid in part_ids for pid in ends) and part_ids.index(ends[0]) > part_ids.index(ends[1]):
            errors.append(f"groups[{i}]: part {ends[0]!r} comes after {ends[1]!r}")
    previous = None
    for m, measure in enumerate(obj["measures"]):
        where = f"measures[{m}]"
        if previous is not None and measure["index"] != previous + 1:
            errors.append(f"{where}.index: measures must be consecutive ({previous} is followed by {measure['index']})")
        previous = measure["index"]
        if not -7 <= measure["key"] <= 7:
            errors.append(f"{where}.key: {measure['key']} is outside -7..7")
        length = time_length(measure["time"])
        if "duration" in measure:
            length = parse_fraction(measure["duration"])
        seen_staves = set()
        for s, staff in enumerate(measure["staves"]):
            swhere = f"{where}.staves[{s}]"
            if staff["staff"] not in known:
                errors.append(f"{swhere}.staff: staff {staff['staff']} is not in the staves list")
            if staff["staff"] in seen_staves:
                errors.append(f"{swhere}.staff: staff {staff['staff']} appears twice in this measure")
            seen_staves.add(staff["staff"])
            seen_voices = set()
            for v, voice in enumerate(staff["voices"]):
                vwhere = f"{swhere}.voices[{v}]"
                if voice["voice"] in seen_voices:
                    errors.append(f"{vwhere}.voice: voice {voice['voice']} appears twice in this staff")
                seen_voices.add(voice["voice"])
                total = Fraction(0)
                for e, event in enumerate(voice["events"]):
                    ewhere = f"{vwhere}.events[{e}]"
                    total += parse_fraction(event["duration"])
                    for n, note in enumerate(event.get("notes") or []):
                        if not consistent(note["pitch"], note["tpc"]):
                            errors.append(f"{ewhere}.notes[{n}]: tpc {note['tpc']} is not a spelling of MIDI pitch {note['pitch']}")
                    if event["type"] == "rest" and event.get("notes"):
                        errors.append(f"{ewhere}.notes: a rest has no notes")
                if voice["events"] and total != length:
                    errors.append(f"{vwhere}: events last {total} but the measure lasts {length}")
    sel = obj.get("selection")
    if sel:
        if sel["end"] < sel["start"]:
            errors.append("selection: end is before start")
        for s in sel.get("staves", []):
            if s not in known:
                errors.append(f"selection.staves: staff {s} is not in the staves list")
    return errors
