"""Notation layer: NotaGen interleaved ABC, excerpt JSON (docs/excerpt.md), MusicXML, MIDI,
measure ranges. Heavy libraries (music21, abctoolkit) are imported inside the functions.

Main entry points:
- to_abc(score | path | MusicXML, prompt=None) -> str           NotaGen interleaved ABC
- excerpt_from_musicxml / excerpt_to_musicxml                    excerpt <-> MusicXML (.mxl too)
- excerpt_from_score / excerpt_to_score                          excerpt <-> music21
- excerpt_from_midi / excerpt_to_midi                            excerpt <-> MIDI
- excerpt_to_abc(excerpt, prompt) / abc_to_excerpt(abc, template) excerpt <-> interleaved ABC
- split_abc(abc) -> (header, bars)                               what the engine extends
- cut_measures / splice_measures / indices_for_numbers           measure ranges
- validate_excerpt(obj) -> ["path: reason", ...]; check_excerpt raises NotationError
- read_excerpt(path) / write_excerpt(excerpt, path)              any format by extension
"""
from __future__ import annotations

from .abc_export import to_abc
from .abc_import import abc_to_excerpt
from .errors import NotationError
from .excerpt_abc import excerpt_to_abc, split_abc
from .files import read_excerpt, write_excerpt
from .midi import excerpt_from_midi, excerpt_to_midi
from .music21_bridge import excerpt_from_score, excerpt_to_score
from .musicxml_read import excerpt_from_musicxml
from .musicxml_write import abc_voice_slots, excerpt_to_musicxml
from .ranges import cut_measures, indices_for_numbers, splice_measures
from .validate import check_excerpt, validate_excerpt

__all__ = ["to_abc", "abc_to_excerpt", "NotationError", "excerpt_to_abc", "split_abc", "read_excerpt",
           "write_excerpt", "excerpt_from_midi", "excerpt_to_midi", "excerpt_from_score", "excerpt_to_score",
           "excerpt_from_musicxml", "excerpt_to_musicxml", "abc_voice_slots", "cut_measures",
           "indices_for_numbers", "splice_measures", "check_excerpt", "validate_excerpt"]
