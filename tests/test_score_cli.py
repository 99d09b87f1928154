"""`notabridge score`: the same log-likelihood from a checkpoint (PyTorch) and from the bundle
exported from it (ONNX Runtime), on a real chorale from music21's corpus."""
from __future__ import annotations

import json

import pytest

from notabridge.engine.bundle import load_bundle
from notabridge.abc.patching import encode
from notabridge.engine.scoring import score_abc
from tests.model_helpers import run_notabridge

SHORT_PIECE = """%Baroque
%Bach, Johann Sebastian
%Choral
%%score [ 1 | 2 ]
L:1/8
M:4/4
K:G
V:1 treble
V:2 bass
[V:1]G2 A2 B2 c2|[V:2]G,4 D,4|
[V:1]d4 B4|[V:2]B,,4 G,,4|
"""


@pytest.fixture(scope="module")
def chorale(tmp_path_factory):
    """Bach's BWV 66.6 as NotaGen interleaved ABC (96 patches: more than the tiny model's 64)."""
    from music21 import corpus

    from notabridge.notation import to_abc

    path = tmp_path_factory.mktemp("pieces") / "bwv66_6.abc"
    path.write_text(to_abc(str(corpus.getWork("bach/bwv66.6")), prompt=("Baroque", "Bach, Johann Sebastian", "Choral")))
    return path


def score_json(model_path, piece) -> dict:
    result = run_notabridge("score", model_path, piece, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("piece_name", ["short", "chorale"])
def test_checkpoint_and_bundle_give_the_same_score(tmp_path, tiny_bundle, tiny_checkpoint_session, chorale, piece_name):
    piece = chorale
    if piece_name == "short":
        piece = tmp_path / "short.abc"
        piece.write_text(SHORT_PIECE)
    from_bundle = score_json(tiny_bundle, piece)
    from_checkpoint = score_json(tiny_checkpoint_session, piece)
    ids = encode(piece.read_text())
    # every non-pad character of every patch after the bos patch is scored exactly once
    assert from_bundle["chars"] == from_checkpoint["chars"] == int((ids[1:] != 0).sum())
    assert from_bundle["windows"] == (1 if piece_name == "short" else 3)
    assert abs(from_bundle["nats"] - from_checkpoint["nats"]) <= 1e-4 * from_bundle["chars"]
    assert abs(from_bundle["bits_per_char"] - from_checkpoint["bits_per_char"]) <= 1e-4
    # a random model knows nothing: about log2(128) = 7 bits per character, give or take
    assert 3 < from_bundle["bits_per_char"] < 12


def test_text_output_and_agreement_with_the_library(tiny_bundle, chorale):
    result = run_notabridge("score", tiny_bundle, chorale)
    assert result.returncode == 0, result.stderr
    score = score_abc(load_bundle(tiny_bundle, device="cpu"), chorale.read_text())
    assert f"{score.nats:.4f} nats over {score.chars} characters" in result.stdout
    assert f"{score.bits_per_char:.4f} bits/char" in result.stdout


@pytest.mark.parametrize("content, message", [
    ("[V:1]c\u00e9|\n", "not ASCII"),
    ("   \n", "is empty"),
])
def test_bad_pieces_are_refused_in_one_line(tmp_path, tiny_bundle, content, message):
    piece = tmp_path / "bad.abc"
    piece.write_text(content, encoding="utf-8")
    result = run_notabridge("score", tiny_bundle, piece)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_missing_model_is_refused(tmp_path):
    piece = tmp_path / "p.abc"
    piece.write_text(SHORT_PIECE)
    result = run_notabridge("score", tmp_path / "nowhere", piece)
    assert result.returncode == 1 and "no such file or folder" in result.stderr
