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


def test_new_pieces_name_their_parts_as_the_training_scores_do():
    """Generate from the prompts whose scores name parts: every `nm="..."` the model writes is one
    of the training names the bundle lists (part_names.json), not a name spelled letter by letter
    at NotaGen's temperature ("Qornon 2", "Celor")."""
    from notabridge.abc.prompt import prompt_lines
    from notabridge.engine import Engine
    from notabridge.engine.sampling import Sampling
    from training.part_names import names_of

    known = set(json.loads((DEFAULT / "part_names.json").read_text()))
    engine = Engine(None, device="cpu")
    written = []
    for prompt in (("Baroque", "Bach, Johann Sebastian", "Choral"), ("Classical", "Haydn, Joseph", "Chamber")):
        for variant in engine.generate(prompt_lines(prompt), 1, Sampling(seed=3), variants=3):
            written += names_of(variant.header)
    assert written, "no generated header named a part: the test would prove nothing"
    assert set(written) <= known


def test_part_names_keep_names_several_pieces_share():
    from training.part_names import names_of, part_names

    pieces = ['V:1 treble nm="Soprano" snm="S."\nV:2 bass nm="Bass"\n',
              'V:1 treble nm="Soprano"\nV:2 bass nm="Basso"\n',
              'V:1 treble nm="Soprano"\nV:2 bass nm="Bass"\nV:3 nm="\\n\\t:Viola"\n',
              'V:1 nm="\\n\\t:Viola"\n']
    assert names_of(pieces[0]) == {"Soprano", "Bass"}
    assert part_names(pieces) == ["Soprano", "Bass"]      # "Basso" once; the escaped break is no name


def test_a_part_name_goes_on_only_as_a_known_name():
    import numpy as np

    from notabridge.engine.writer import name_constraint, open_part_name

    names = ("Soprano", "Soprano 1", "Bass", "Basso")
    assert open_part_name('V:1 treble nm="Sop') == "Sop"
    assert open_part_name('V:1 treble nm="Soprano" snm="S') is None     # snm= is not the part name
    assert name_constraint("Sop", names) == ("r", "")                   # one way on: forced
    forced, mask = name_constraint("Bass", names)                       # "Bass" ends or becomes "Basso"
    assert forced is None and {chr(i) for i in np.flatnonzero(mask == 0)} == {'"', "o"}
    forced, mask = name_constraint("Soprano", names)
    assert {chr(i) for i in np.flatnonzero(mask == 0)} == {'"', " "}
