"""The n-gram baseline of training.evaluate is charged for exactly the characters the model's
scoring (notabridge.engine.scoring) charges, and it learns: held-out bits per char well under uniform."""
from __future__ import annotations

import math
import random

import numpy as np

from notabridge.abc.patching import encode
from notabridge.engine.scoring import score_ids
from training.ngram import CharNgram, bits_per_char, scored_stream
from tests.test_training_train import scale_piece


def test_same_characters_as_model_scoring():
    text = scale_piece(random.Random(3), 50)
    uniform = lambda ids: np.zeros((len(ids) - 1, 17, 128), dtype=np.float32)  # noqa: E731
    score = score_ids(uniform, encode(text), context=32)  # windows: every target patch once
    assert score.chars == len(scored_stream(text))
    assert math.isclose(score.bits_per_char, 7.0, rel_tol=1e-6)


def test_ngram_learns_held_out_structure():
    rng = random.Random(0)
    train = [scored_stream(scale_piece(rng, rng.randint(8, 30))) for _ in range(30)]
    held_out = [scored_stream(scale_piece(rng, 20)) for _ in range(3)]
    model = CharNgram(order=5).fit(train)
    assert bits_per_char(model, held_out) < 1.5
    # probabilities of one context sum to one over the 128 symbols
    assert math.isclose(sum(model.prob("[V:1]C2", chr(c)) for c in range(128)), 1.0, rel_tol=1e-9)
