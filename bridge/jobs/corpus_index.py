"""Build a bundle's bar index (notabridge.jobs.originality) from a corpus folder.

Two kinds of folder: one written by `python -m training.corpus` (its train.jsonl: the pieces
a model trained on, as interleaved ABC) or any folder of scores (MusicXML, .mxl, MIDI, ABC,
excerpt JSON), searched recursively. Only fingerprints (hashes) go into the index.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator

from .originality import BarIndex

SCORE_TYPES = (".musicxml", ".xml", ".mxl", ".mid", ".midi", ".abc", ".json")


class CorpusError(ValueError):
    """The folder holds nothing to index; the message says what was expected."""


def score_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SCORE_TYPES
                  and p.name not in ("stats.json", "prompts.json"))


def corpus_pieces(folder: str | Path, skipped: list[str] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> Iterator[tuple[str, dict]]:
    """(name, excerpt) of every piece of the folder; unreadable files are named in `skipped`."""
    from notabridge.notation import NotationError, abc_to_excerpt, read_excerpt

    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"{folder}: no such folder")
    train = folder / "train.jsonl"
    if train.is_file():
        lines = [line for line in train.read_text(encoding="utf-8").splitlines() if line.strip()]
        for n, line in enumerate(lines):
            record = json.loads(line)
            try:
                yield record["id"], abc_to_excerpt(record["abc"], first_index=0)
            except (NotationError, ValueError, KeyError) as exc:
                if skipped is not None:
                    skipped.append(f"{record.get('id')}: {exc}")
            if progress:
                progress(n + 1, len(lines))
        return
    files = score_files(folder)
    if not files:
        raise CorpusError(f"{folder} holds no scores ({', '.join(SCORE_TYPES)}) and no train.jsonl")
    for n, path in enumerate(files):
        try:
            yield str(path.relative_to(folder)), read_excerpt(path)
        except Exception as exc:  # noqa: BLE001 - one unreadable file is reported, the others indexed
            if skipped is not None:
                skipped.append(f"{path.name}: {exc}")
        if progress:
            progress(n + 1, len(files))


def build_index(folder: str | Path, skipped: list[str] | None = None,
                progress: Callable[[int, int], None] | None = None) -> BarIndex:
    index = BarIndex.build(corpus_pieces(folder, skipped, progress))
    if not index.pieces:
        raise CorpusError(f"no piece of {folder} could be read")
    return index
