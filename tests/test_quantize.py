"""int8 bundles: `notabridge export --int8`, `notabridge quantize`, and the engine running them.

The toy model of tests/engine_helpers.py (trained in the fixture) is quantised with toy pieces
as calibration and scored on other toy pieces; the engine continues a piece with it."""
from __future__ import annotations

import json
import random

import pytest

from notabridge.abc.bar_check import check_bar, header_context
from notabridge.engine.bundle import load_bundle
from notabridge.engine import Engine
from notabridge.engine.sampling import Sampling
from notabridge.engine.scoring import score_abc
from tests.engine_helpers import HEADER, PROMPT, toy_piece
from tests.model_helpers import run_notabridge

PIECE = PROMPT + HEADER + "[V:1]G2 A2 B2|[V:2]G,6|\n[V:1]d6|[V:2]D,6|\n"


def _pieces(tmp_path, seed: int, n: int) -> list:
    rng = random.Random(seed)
    files = []
    for i in range(n):
        f = tmp_path / f"piece_{seed}_{i}.abc"
        f.write_text(toy_piece(rng, 12))
        files.append(f)
    return files


def _bits(bundle, texts) -> float:
    scores = [score_abc(bundle, t) for t in texts]
    return sum(s.nats for s in scores) / sum(s.chars for s in scores) / 0.6931471805599453


@pytest.fixture(scope="module")
def int8_bundle(toy_bundle, tmp_path_factory):
    """The toy checkpoint exported with --int8 on the command line, toy pieces as calibration."""
    tmp = tmp_path_factory.mktemp("int8")
    out = tmp / "bundle"
    result = run_notabridge("export", toy_bundle.parent / "toy.pth", out, "--int8", "--name", "toy-int8",
                            "--calibration", *_pieces(tmp, 0, 3))
    assert result.returncode == 0, result.stderr
    assert "int8" in result.stdout and "bits/char" in result.stdout
    return out


def test_int8_export_is_smaller_and_inspect_shows_its_precision(int8_bundle, toy_bundle):
    config = json.loads((int8_bundle / "config.json").read_text())
    assert config["precision"] == "int8" and config["name"] == "toy-int8"
    assert config["quantization"]["int8"]          # some weight groups are int8
    size = lambda b: sum((b / g["file"]).stat().st_size for g in json.loads((b / "config.json").read_text())["graphs"].values())  # noqa: E731
    assert size(int8_bundle) < 0.5 * size(toy_bundle)
    shown = run_notabridge("inspect", int8_bundle)
    assert shown.returncode == 0, shown.stderr
    assert "precision     int8 (" in shown.stdout and "lm head" in shown.stdout and "checksums     verified" in shown.stdout
    assert json.loads(run_notabridge("inspect", int8_bundle, "--json").stdout)["precision"] == "int8"


def test_int8_bundle_scores_held_out_pieces_like_fp32(int8_bundle, toy_bundle, tmp_path):
    held_out = [f.read_text() for f in _pieces(tmp_path, 99, 4)]   # not the calibration pieces
    fp32 = _bits(load_bundle(toy_bundle, "cpu"), held_out)
    int8 = _bits(load_bundle(int8_bundle, "cpu"), held_out)
    assert fp32 < 2.0                       # the toy model knows its style
    assert abs(int8 - fp32) <= 0.01


def test_engine_continues_a_piece_with_the_int8_bundle(int8_bundle):
    engine = Engine(int8_bundle, device="cpu")
    [v] = engine.continue_(PIECE, 4, Sampling(seed=1))
    ctx = header_context(HEADER)
    assert len(v.bars) == 4 and all(check_bar(bar, ctx).valid for bar in v.bars)
    assert v.abc.startswith(PIECE)


def test_a_tighter_budget_keeps_the_most_sensitive_groups_in_fp32(toy_bundle, tmp_path):
    from notabridge.onnx_export.quantize import quantize_bundle

    calibration = [f.read_text() for f in _pieces(tmp_path, 0, 2)]
    loose = quantize_bundle(toy_bundle, tmp_path / "loose", calibration, budget=1.0, kl_budget=1.0)
    assert len(loose["quantization"]["int8"]) == 8        # 4 kinds x 2 graphs, nothing kept back
    full_kl = loose["quantization"]["measured"]["kl_bits_per_char"]
    assert full_kl > 0
    tight = quantize_bundle(toy_bundle, tmp_path / "tight", calibration, budget=1.0, kl_budget=full_kl / 2)
    q = tight["quantization"]
    assert 0 < len(q["int8"]) < 8 and q["measured"]["kl_bits_per_char"] <= full_kl / 2
    assert len(q["fp32"]) == 8 - len(q["int8"])
    assert Engine(tmp_path / "tight", device="cpu").continue_(PIECE, 1, Sampling(seed=0))


def test_quantize_refuses_what_it_cannot_do(int8_bundle, tmp_path):
    again = run_notabridge("quantize", int8_bundle, tmp_path / "twice")
    assert again.returncode == 1 and "fp32" in again.stderr and "Traceback" not in again.stderr
    missing = run_notabridge("quantize", tmp_path / "nothing", tmp_path / "out")
    assert missing.returncode == 1 and "no model bundle" in missing.stderr
    bad = run_notabridge("export", tmp_path / "x.pth", tmp_path / "y", "--int8", "--fp16")
    assert bad.returncode == 1 and "exclude each other" in bad.stderr
