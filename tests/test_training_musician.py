"""The evaluation's musician measures (training.musician, training.evaluate.hear) on real pieces
of music21's corpus and on small hand-written ABC, not on any model's output."""
from __future__ import annotations

import numpy as np
import pytest

from notabridge.abc.patching import split_piece
from notabridge.notation.notagen_chain import notagen_chain
from training.corpus import corpus_root, split_tunes
from training.data import Piece
from training.evaluate import first_bars_text, hear, real_classifier, real_reference
from training.musician import (key_agreement, median_register, nearest_centroid_loo, part_names, piece_features,
                               voices_sounding)

BACH = ("Baroque", "Bach, Johann Sebastian", "Choral")
FOLK = ("Folk", "O'Neill, Francis", "Melody")


def _chorale(name: str) -> str:
    return notagen_chain(str(corpus_root() / "bach" / name)).training_text()


def _tune(i: int) -> str:
    from music21 import converter
    text = (corpus_root() / "oneills1850" / "0001-0050.abc").read_text()
    return notagen_chain(converter.parse(split_tunes(text)[i], format="abc")).training_text()


@pytest.fixture(scope="module")
def real():
    return {BACH: [_chorale(n) for n in ("bwv66.6.mxl", "bwv26.6.mxl", "bwv281.mxl")],
            FOLK: [_tune(i) for i in (0, 1, 2)]}


def test_every_voice_of_a_chorale_sounds_in_every_bar(real):
    piece = split_piece(real[BACH][0])
    bars = voices_sounding(piece.header, piece.body)
    assert len(bars) == len(piece.body) and all(len(b) == 4 for b in bars)
    assert all(all(b.values()) for b in bars)


def test_a_resting_or_missing_voice_is_silent():
    header = ["L:1/8\n", "M:2/4\n", "K:C\n", 'V:1 treble nm="Soprano"\n', 'V:2 bass nm="Bass"\n']
    body = ["[V:1]c2 e2|[V:2]z4|\n", "[V:1]d4|\n", '[V:1]"^dolce"z4|[V:2][K:G]G,4|\n']
    assert voices_sounding(header, body) == [{"1": True, "2": False}, {"1": True, "2": False},
                                             {"1": False, "2": True}]
    assert part_names(header) == ["Soprano", "Bass"]


def test_register_is_the_median_written_pitch_per_voice():
    # c = C5 (72), e = 76; C, = C3 (48), E, = 52
    assert median_register(["[V:1]c2 e2|[V:2]C,2 E,2|\n"]) == {"1": 74.0, "2": 50.0}
    registers = median_register(split_piece(_chorale("bwv66.6.mxl")).body)
    assert registers["1"] - registers["4"] > 12    # the soprano sings well above the bass


def test_key_agreement_follows_the_notes():
    assert key_agreement("L:1/8\nM:4/4\nK:C\nV:1\n[V:1]CEGc GECE|DFAd cAFD|CEGc G4|\n") is True
    # F sharp major arpeggios under a key signature without sharps
    assert key_agreement("L:1/8\nM:4/4\nK:C\nV:1\n[V:1]^F^A^c^f ^c^A^F^A|^G=B^d^g ^d=B^G=B|^F^A^c^f ^f4|\n") is False


def test_key_agreement_on_real_chorales(real):
    assert all(key_agreement(text) for text in real[BACH])


def test_nearest_centroid_leaves_the_piece_out():
    x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    assert nearest_centroid_loo(x, ["a", "a", "b", "b"]) == (1.0, 0.5)
    # a prompt with a single piece cannot be recognised once that piece is left out
    accuracy, chance = nearest_centroid_loo(x[:3], ["a", "a", "b"])
    assert accuracy == pytest.approx(2 / 3) and chance == pytest.approx(2 / 3)


def test_real_chorales_and_tunes_are_told_apart(real):
    features = [piece_features(t) for q in (BACH, FOLK) for t in real[q]]
    labels = [q for q in (BACH, FOLK) for _ in real[q]]
    accuracy, chance = nearest_centroid_loo(np.stack(features), labels)
    assert accuracy == 1.0 and chance == 0.5


def test_hear_on_real_pieces_posing_as_generated(real):
    """Real pieces passed through `hear` as if generated: every measure comes out as a musician expects."""
    generated, pieces = {}, {}
    for prompt, texts in real.items():
        generated[prompt] = {"pieces": []}
        for text in texts:
            piece = split_piece(text)
            header = "".join(piece.header)
            if prompt == BACH:
                header = header.replace('nm="Alto"', 'nm="Qornon 2"')   # a garbled name, as a bad model writes
            generated[prompt]["pieces"].append({"header": header, "bars": piece.body[:8], "abc": text})
        pieces[prompt] = [Piece(f"{i}", prompt, t) for i, t in enumerate(texts)]
    references = {q: real_reference(pieces[q]) for q in real}
    names = {n for texts in real.values() for t in texts for n in part_names(split_piece(t).header)}
    h = hear(generated, [BACH, FOLK], "generate", 8, references, names, {})
    rows = {tuple(r["prompt"]): r for r in h["rows"]}
    assert rows[BACH]["all_voices_sound"] == 1.0 and rows[BACH]["voices_declared"] == 4
    assert rows[BACH]["names_outside_training"] == ["Qornon 2"] and rows[FOLK]["names_outside_training"] == []
    assert rows[BACH]["key_agreement"] == 1.0
    assert rows[BACH]["register_within_5"] == 1.0     # each voice near the real voices' median
    assert h["classifier"]["accuracy"] == 1.0 and h["classifier"]["chance"] == 0.5
    short = [r["short_pieces"] for r in h["rows"]]
    assert short == [sum(len(split_piece(t).body) < 8 for t in real[q]) for q in (BACH, FOLK)]


def test_the_classifier_ceiling_is_measured_on_real_openings_as_long_as_the_generated_pieces(real):
    pieces = {q: [Piece(f"{i}", q, t) for i, t in enumerate(texts)] for q, texts in real.items()}
    ceiling = real_classifier(pieces, per_prompt=3, bars=8)
    # chorales and reels differ in every statistic: the measure itself must tell them apart
    assert ceiling["accuracy"] == 1.0 and ceiling["pieces"] == 6 and ceiling["chance"] == 0.5
    opening = first_bars_text(real[BACH][0], 8)
    assert not opening.startswith("%") and len(split_piece(opening).body) == 8
    assert first_bars_text(real[BACH][0], 10_000) is None     # shorter pieces are not cut to fit
    # BWV 66.6 (F# minor) is heard in its key only from bar 6 on: the reference follows the length
    assert real_reference(pieces[BACH], bars=8)["key_agreement_bars"] == 1.0
    assert real_reference(pieces[BACH], bars=4)["key_agreement_bars"] == 2 / 3
