"""The embedded model's held-out pieces, rebuilt from music21's corpus without the whole corpus run.

training.corpus splits by a hash of each piece's id (`is_validation`), so the validation side
can be converted on its own: the same tasks as the corpus run (`make_tasks`), only the pieces
whose id falls on the validation side, original key only. A folder written by
`python -m training.corpus` is read instead when given (its validation.jsonl).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .corpus import Task, corpus_root, is_validation, make_tasks, read_records, run_task

VALIDATION_SHARE = 0.05          # training.corpus's default, with which the embedded model was made
FOLK_PER_COLLECTION = 1000     # training.corpus --folk-per-collection default


def _base(task: Task) -> str:
    return f"{task.source.name}/{Path(task.path).with_suffix('').as_posix()}"


def validation_tasks(share: float = VALIDATION_SHARE) -> list[Task]:
    """The corpus tasks cut down to their validation pieces (folk files: only those tunes)."""
    root = corpus_root()
    out = []
    for task in make_tasks(root, FOLK_PER_COLLECTION):
        base = _base(task)
        if task.tunes:
            tunes = tuple(i for i in task.tunes if is_validation(f"{base}#{i}", share))
            if tunes:
                out.append(replace(task, tunes=tunes))
        elif task.source.kind == "parse" and task.source.name != "palestrina":
            out.append(task)   # may hold several scores (`#i` ids): split after converting
        elif is_validation(base, share):
            out.append(task)
    return out


def validation_pieces(corpus: str | Path | None = None, limit: int = 0, share: float = VALIDATION_SHARE) -> list[dict]:
    """Held-out records {"id", "prompt", "abc"}: from `corpus`/validation.jsonl, else converted now."""
    if corpus is not None:
        records = read_records(Path(corpus) / "validation.jsonl")
        return records[:limit] if limit else records
    root = str(corpus_root())
    out: list[dict] = []
    for task in validation_tasks(share):
        for rec in run_task((task, root, 0, 0)):
            if "error" not in rec and is_validation(rec["id"], share):
                out.append(rec)
        if limit and len(out) >= limit:
            break
    return out[:limit] if limit else out

