"""Turn what callers hand us (a music21 stream, a path, MusicXML text, .mxl bytes) into MusicXML bytes."""
from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

from .errors import NotationError


def read_mxl(data: bytes) -> bytes:
    """The score file inside a compressed .mxl archive, found through META-INF/container.xml.

    (xml2abc itself only looks for a member ending in `.xml`, which misses `.musicxml` members.)
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise NotationError("this .mxl file is not a valid zip archive") from exc
    names = archive.namelist()
    member = None
    if "META-INF/container.xml" in names:
        try:
            root = ET.fromstring(archive.read("META-INF/container.xml"))
            for element in root.iter():
                if element.tag.endswith("rootfile") and element.get("full-path"):
                    member = element.get("full-path")
                    break
        except ET.ParseError:
            member = None
    if member is None or member not in names:
        candidates = [n for n in names if not n.startswith("META-INF") and n.lower().endswith((".xml", ".musicxml"))]
        if not candidates:
            raise NotationError("this .mxl archive holds no MusicXML file")
        member = candidates[0]
    return archive.read(member)


def score_to_musicxml(score: Any) -> bytes:
    """A music21 stream -> MusicXML bytes (music21's own exporter)."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    try:
        return GeneralObjectExporter(score).parse()
    except Exception as exc:
        raise NotationError(f"music21 cannot write this score as MusicXML: {exc}") from exc


MUSIC21_INPUTS = {".krn": "Humdrum **kern", ".mei": "MEI"}


def other_format_musicxml(path: Path) -> bytes:
    """A Humdrum **kern or MEI file -> MusicXML bytes, read by music21 (which reads both on the
    corpus files tried: Palestrina, Chopin, Beethoven kern; music21's MEI test files)."""
    from music21 import converter

    try:
        score = converter.parse(str(path))
    except Exception as exc:
        kind = MUSIC21_INPUTS[path.suffix.lower()]
        raise NotationError(f"cannot read this {kind} file: {type(exc).__name__}: {str(exc)[:200]}") from exc
    return score_to_musicxml(score)


def musicxml_bytes(source: Any) -> bytes:
    """MusicXML bytes from a music21 stream, a .musicxml/.xml/.mxl path, MusicXML text, or raw bytes."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        return read_mxl(data) if data[:2] == b"PK" else data
    if isinstance(source, str) and source.lstrip().startswith("<"):
        return source.encode("utf-8")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise NotationError(f"no such file: {path}")
        if path.suffix.lower() in MUSIC21_INPUTS:
            return other_format_musicxml(path)
        data = path.read_bytes()
        return read_mxl(data) if data[:2] == b"PK" else data
    if hasattr(source, "recurse"):  # any music21 stream
        return score_to_musicxml(source)
    raise NotationError(f"cannot read a score from a {type(source).__name__}")
