"""Excerpt JSON <-> music21 streams, through MusicXML (music21's own writer and parser)."""
from __future__ import annotations

from typing import Any

from .errors import NotationError
from .musicxml_read import excerpt_from_musicxml
from .musicxml_write import excerpt_to_musicxml
from .sources import score_to_musicxml


def excerpt_from_score(score: Any) -> dict:
    """A music21 Score (or any stream) -> excerpt JSON."""
    return excerpt_from_musicxml(score_to_musicxml(score))


def excerpt_to_score(excerpt: dict):
    """Excerpt JSON -> music21 Score."""
    from music21 import converter

    try:
        return converter.parseData(excerpt_to_musicxml(excerpt), format="musicxml")
    except NotationError:
        raise
    except Exception as exc:
        raise NotationError(f"music21 cannot read the excerpt's MusicXML: {exc}") from exc
