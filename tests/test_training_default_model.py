"""The embedded default model (models/default) ships complete, small, documented and trained."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

DEFAULT = Path(__file__).resolve().parent.parent / "models" / "default"

pytestmark = pytest.mark.skipif(not (DEFAULT / "config.json").is_file(), reason="models/default has no bundle yet")


def test_bundle_is_complete_and_small():
    from notabridge.engine.bundle import load_bundle
    bundle = load_bundle(None, "cpu", threads=1)  # None = the embedded default; checks the graph checksums
    assert bundle.config["format"] == "notabridge-bundle"
    size = sum(f.stat().st_size for f in DEFAULT.iterdir() if f.is_file())
    assert size <= 40 * 2**20
    prompts = json.loads((DEFAULT / "prompts.json").read_text())
    assert ["Baroque", "Bach, Johann Sebastian", "Choral"] in prompts


def test_model_card_states_data_licence_and_quality():
    card = (DEFAULT / "MODEL_CARD.md").read_text()
    assert "music21" in card and "non-commercial" in card
    assert "parameters" in card and ("bits per character" in card.lower() or "bits/char" in card)


def test_default_model_has_learned_chorales():
    """A Bach chorale through the notation layer, scored by the shipped model: far better than
    the 7 bits/char of an untrained (uniform) model."""
    from music21 import corpus

    from notabridge.engine.bundle import load_bundle
    from notabridge.notation import to_abc
    from notabridge.engine.scoring import score_abc
    abc = to_abc(str(corpus.getWork("bwv66.6")), prompt=("Baroque", "Bach, Johann Sebastian", "Choral"))
    score = score_abc(load_bundle(None, "cpu", threads=1), abc)
    assert score.bits_per_char < 3.0
