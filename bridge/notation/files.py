"""Read and write excerpts by file extension: .musicxml/.xml/.mxl, .mid/.midi, .abc, .json;
Humdrum .krn and MEI .mei are read (through music21), not written."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from .abc_import import abc_to_excerpt
from .abc_plain import plain_abc
from .errors import NotationError
from .excerpt_abc import excerpt_to_abc
from .midi import excerpt_from_midi, excerpt_to_midi
from .musicxml_read import excerpt_from_musicxml
from .musicxml_write import excerpt_to_musicxml
from .sources import musicxml_bytes
from .validate import check_excerpt

FORMATS = {".musicxml": "musicxml", ".xml": "musicxml", ".mxl": "mxl", ".mid": "midi", ".midi": "midi",
           ".abc": "abc", ".json": "json", ".krn": "kern", ".mei": "mei"}
SCORE_FILES = ("musicxml", "mxl", "kern", "mei")  # what NotaGen's chain reads (kern and MEI as MusicXML)


# what a score file's other contents become when a result is written in another format
FORMAT_LIMITS = {
    "midi": "MIDI holds notes, tempo, key and meter only: the score's text, dynamics, articulations, slurs, "
            "chord symbols, lyrics, repeats and layout are not in it",
    "abc": "NotaGen's ABC holds no lyrics and no layout, and the new bars are written from the model's text",
    "json": "excerpt JSON holds notes, keys, meters and tempi: the score's text, dynamics, articulations, slurs, "
            "chord symbols, lyrics, repeats and layout are not in it",
}


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise NotationError(f"unknown file type {suffix or '(none)'} for {path}: use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def read_excerpt(path: str | Path) -> dict:
    """Any supported file -> excerpt JSON (validated)."""
    kind = file_format(path)
    path = Path(path)
    if not path.is_file():
        raise NotationError(f"no such file: {path}")
    if kind in SCORE_FILES:
        excerpt = excerpt_from_musicxml(musicxml_bytes(path))
    elif kind == "midi":
        excerpt = excerpt_from_midi(path)
    elif kind == "abc":
        excerpt = abc_to_excerpt(path.read_text(encoding="utf-8", errors="replace"))
    else:
        try:
            excerpt = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NotationError(f"{path} is not valid JSON: {exc}") from exc
    return check_excerpt(excerpt)


def mxl_bytes(xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml", '<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
                         '<rootfile full-path="score.musicxml" media-type="application/vnd.recordare.musicxml+xml"/>'
                         "</rootfiles></container>")
        archive.writestr("score.musicxml", xml)
    return buffer.getvalue()


def write_excerpt(excerpt: dict, path: str | Path, prompt=None, plain: bool = False) -> list[str]:
    """Write an excerpt in the format named by the extension; returns conversion warnings.
    `plain`: .abc as standard ABC, one block per voice (abc_plain), instead of NotaGen's text."""
    kind = file_format(path)
    if kind in ("kern", "mei"):
        raise NotationError(f"{path}: Humdrum and MEI files are read, not written; write .musicxml, .mxl, .mid, .abc or .json")
    check_excerpt(excerpt)
    warnings: list[str] = []
    if kind == "musicxml":
        data = excerpt_to_musicxml(excerpt)
    elif kind == "mxl":
        data = mxl_bytes(excerpt_to_musicxml(excerpt))
    elif kind == "midi":
        data = excerpt_to_midi(excerpt)
    elif kind == "abc":
        data = excerpt_to_abc(excerpt, prompt=prompt, warnings=warnings)
        data = (plain_abc(data, excerpt.get("title", "")) if plain else data).encode("utf-8")
    else:
        data = (json.dumps(excerpt, indent=1) + "\n").encode("utf-8")
    Path(path).write_bytes(data)
    return warnings
