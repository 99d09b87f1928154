"""Originality check (issue 18): every variant says how many bars it shares with the model's
training pieces and with the rest of the user's score.

The copying is forced: a toy model (tests/engine_helpers.py) is trained on one 8-bar piece
only, repeated, so that accompanying the piece's own melody at a low temperature writes its
lower voice again, note for note. Its bundle gets a bar index of that training piece from a folder of scores, with
`notabridge export BUNDLE --index-corpus FOLDER`.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon_helpers import http_request, running_daemon, wait_for_job

ROOT = Path(__file__).resolve().parents[1]
HEADER = "%%score [ 1 | 2 ]\nL:1/8\nM:3/4\nK:G\nV:1 treble nm=\"Upper\"\nV:2 bass nm=\"Lower\"\n"
# eight upper bars that differ in rhythm or intervals: each bar says where the piece is
# (three notes a bar: bars of fewer notes are not counted by the check)
UPPER = ["G2 A2 B2", "c2 B2 A2", "A2 B2 c2", "d2 c2 B2", "B2 c2 d2", "g2 d2 B2", "e2 d2 c2", "B2 G2 A2"]
LOWER = ["G,2 D,2 B,,2", "C,2 E,2 G,2", "D,2 C,2 A,,2", "G,2 G,,2 B,,2", "E,2 B,,2 G,,2", "B,,2 D,2 F,2",
         "C,2 C2 G,2", "D,2 A,2 D,,2"]


def memorised_piece(bars: int = 8) -> str:
    return HEADER + "".join(f"[V:1]{UPPER[i % 8]}|[V:2]{LOWER[i % 8]}|\n" for i in range(bars))


def _make_piece(rng, bars: int) -> str:
    # at most 12 bars: 4 patches a bar, so a piece fits the toy model's context of 64 patches
    return "%Baroque\n%Bach, Johann Sebastian\n%Choral\n" + memorised_piece(min(bars, 12))


@pytest.fixture(scope="module")
def copying_bundle(tmp_path_factory) -> Path:
    import torch

    from notabridge.onnx_export.export import export_bundle
    from tests.engine_helpers import train_toy_model

    root = tmp_path_factory.mktemp("copying")
    model, _ = train_toy_model(steps=600, make_piece=_make_piece)   # long enough to learn the piece by heart
    torch.save({"model": model.state_dict()}, root / "copier.pth")
    bundle = root / "bundle"
    export_bundle(root / "copier.pth", bundle, prompts=[("Baroque", "Bach, Johann Sebastian", "Choral")], name="toy-copier")
    corpus = root / "training_pieces"
    corpus.mkdir()
    (corpus / "memorised.abc").write_text(memorised_piece())
    out = _cli("export", str(bundle), "--index-corpus", str(corpus))
    assert out.returncode == 0, out.stderr
    assert "1 pieces" in out.stdout and (bundle / "bar_index.npz").is_file()
    return bundle


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notabridge.cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def test_fingerprints_ignore_transposition_and_notice_one_changed_note():
    from notabridge.notation import abc_to_excerpt
    from notabridge.jobs.originality import BarIndex, longest_shared

    index = BarIndex.build([("memorised", abc_to_excerpt(memorised_piece(), first_index=0))])
    up_a_third = abc_to_excerpt(memorised_piece().replace("K:G", "K:Bb").replace("G2 A2 B2", "B2 c2 d2")
                                .replace("c2 B2 A2", "e2 d2 c2").replace("A2 B2 c2", "c2 d2 e2"), first_index=0)
    # the first three bars of the upper voice, moved up a minor third (link into bar 2 and 3 kept)
    up_a_third["measures"] = up_a_third["measures"][:3]
    assert longest_shared(up_a_third, index, staves=[0]).bars == 3
    changed = abc_to_excerpt(memorised_piece().replace("c2 B2 A2", "c2 B2 G2"), first_index=0)
    match = longest_shared(changed, index, staves=[0])
    assert match.bars == 6 and match.measures == (2, 7)          # bars 3-8 still match, bar 2 does not


def test_accompaniment_copied_from_the_training_piece_is_named(copying_bundle):
    """The upper voice of the training piece is given; the model writes the lower one, which it
    learnt note for note with that melody: the lower voice is reported, the given one is not."""
    from notabridge.notation import abc_to_excerpt

    score = abc_to_excerpt(memorised_piece(8), first_index=0)
    score["selection"] = {"start": 1, "end": 7, "staves": [1]}
    with running_daemon(copying_bundle) as daemon:
        status, job = http_request(daemon, "POST", "/jobs", {"mode": "accompany", "excerpt": score, "staves": [1],
                                                            "variants": 2, "settings": {"temperature": 0.1, "seed": 3}})
        assert status == 202, job
        assert wait_for_job(daemon, job["id"], timeout=300)["status"] == "done"
        status, result = http_request(daemon, "GET", f"/jobs/{job['id']}/result?formats=excerpt")
    assert status == 200
    for variant in result["variants"]:
        found = variant["originality"]
        assert found["index"] is True
        training = found["training"]
        assert training["piece"] == "memorised.abc" and training["bars"] >= 2, found
        assert training["staff"] == 1                                  # the written voice, not the given one
        assert training["piece_bars"][0] == training["measures"][0]   # the same bars of the piece
        assert found["own_score"]["bars"] <= 1        # bars 1 and 8 of the lower voice are all the rest it has
        assert found["warning"] and "memorised.abc" in found["warning"]
    assert any("memorised.abc" in w for w in result["warnings"])


def test_without_an_index_only_the_own_score_is_checked(toy_bundle):
    from notabridge.jobs.compose import ComposeJob, compose
    from notabridge.engine import Engine
    from notabridge.notation import abc_to_excerpt
    from notabridge.engine.sampling import Sampling

    score = abc_to_excerpt(memorised_piece(8), first_index=0)
    score["selection"] = {"start": 0, "end": 8, "staves": [0, 1]}
    result = compose(ComposeJob(mode="continue", excerpt=score, bars=2, sampling=Sampling(seed=1)),
                     Engine(toy_bundle, device="cpu"))
    found = result.variants[0]["originality"]
    assert found["index"] is False and found["training"] is None
    assert found["own_score"] is not None and isinstance(found["own_score"]["bars"], int)


def test_export_index_refuses_an_empty_folder(copying_bundle, tmp_path):
    out = _cli("export", str(copying_bundle), "--index-corpus", str(tmp_path))
    assert out.returncode == 1 and "holds no scores" in out.stderr and "Traceback" not in out.stderr
