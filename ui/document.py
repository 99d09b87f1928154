"""The score the user opened in the panel (any format notabridge.notation reads), the excerpt a job
sends for a measure range, and the score with a variant's bars put in."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CONTEXT_BEFORE = 16   # measures of context sent before the range (what the MuseScore plugin sends too)
CONTEXT_AFTER = 4     # measures after it, which infill needs to lead into
OPEN_FILTER = "Scores (*.musicxml *.xml *.mxl *.mid *.midi *.abc *.json)"
SAVE_FILTER = "MusicXML (*.musicxml);;Compressed MusicXML (*.mxl);;MIDI (*.mid);;ABC (*.abc)"


@dataclass
class Applied:
    """A variant put into the score: the whole result and the indices of its new measures."""
    excerpt: dict
    new_indices: list[int] = field(default_factory=list)


def load(path: str | Path) -> dict:
    from notabridge.notation import read_excerpt

    return read_excerpt(path)


def save(excerpt: dict, path: str | Path, prompt: tuple | None = None) -> list[str]:
    from notabridge.notation import write_excerpt

    return write_excerpt(excerpt, path, prompt=prompt)


def measure_window(excerpt: dict, start: int, end: int, before: int, after: int) -> dict:
    """Measures start-before .. end+after-1 of the excerpt (clipped), selection start..end."""
    from notabridge.notation.excerpt_base import copy_excerpt

    out = copy_excerpt({k: v for k, v in excerpt.items() if k != "measures"})
    out["measures"] = copy_excerpt({"m": [m for m in excerpt["measures"]
                                          if start - before <= m["index"] < end + after]})["m"]
    selection = dict(excerpt.get("selection") or {})
    selection.update(start=start, end=end)
    selection.setdefault("staves", [s["index"] for s in excerpt["staves"]])
    out["selection"] = selection
    return out


def build_job(mode: str, excerpt: dict | None, start: int, end: int, staves: list[int] | None = None) -> dict:
    """The job JSON (docs/http.md) for a mode and a measure range (indices, end exclusive).
    Sampling settings are left out: the daemon's shared settings apply, which the panel edits."""
    job: dict = {"mode": mode}
    if mode == "generate" or excerpt is None:
        return job
    window = measure_window(excerpt, start, end, CONTEXT_BEFORE, CONTEXT_AFTER if mode != "continue" else 0)
    if staves:
        window["selection"]["staves"] = list(staves)
    job["excerpt"] = window
    if mode == "accompany" and staves:
        job["staves"] = list(staves)
    return job


def apply_variant(mode: str, score: dict | None, variant_excerpt: dict, end: int) -> Applied:
    """The score with a result variant's measures in it (the score itself is not changed)."""
    from notabridge.notation import splice_measures

    if mode == "generate" or score is None:
        return Applied(variant_excerpt, [m["index"] for m in variant_excerpt["measures"]])
    if mode == "continue":
        merged = splice_measures(score, variant_excerpt, mode="continue", at=end)
        count = len(variant_excerpt["measures"])
        return Applied(merged, list(range(end, end + count)))
    merged = splice_measures(score, variant_excerpt, mode="infill")
    return Applied(merged, [m["index"] for m in variant_excerpt["measures"]])


def index_range(excerpt: dict) -> tuple[int, int]:
    indices = [m["index"] for m in excerpt["measures"]]
    return (indices[0], indices[-1]) if indices else (0, 0)
