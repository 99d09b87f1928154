"""Notation layer: NotaGen interleaved ABC, excerpt JSON v1, MusicXML, MIDI, measure ranges.

Heavy libraries (music21, abctoolkit) are imported inside the functions that need them.
"""
from __future__ import annotations

from .abc_export import to_abc
from .errors import NotationError

__all__ = ["to_abc", "NotationError"]
