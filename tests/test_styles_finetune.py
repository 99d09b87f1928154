"""`notabridge finetune` (issue 18) on the tiny test bundle (tests/conftest.py) and a folder of a
few real scores: the bundle's weights come back from its graphs, a short fine-tuning run is
resumable, and the new bundle knows the base prompts plus the new one. The quality targets are
measured by bench/finetune.py on the embedded model, not here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
TUNE = """X:1
T:Test tune {n}
M:3/4
L:1/8
K:G
G2 A2 B2 | c2 B2 A2 | {a} B2 c2 | d6 | B2 A2 G2 | A2 B2 c2 | B2 A2 G2 | G6 |]
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notabridge.cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=900)


def _folder(path: Path, n: int = 4) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for k, a in enumerate(["A2", "d2", "e2", "G2", "B2"][:n]):
        (path / f"tune{k}.abc").write_text(TUNE.format(n=k, a=a))
    return path


def test_bundle_weights_read_back_give_the_same_likelihoods(tiny_bundle, tmp_path):
    from notabridge.engine.bundle import load_bundle
    from notabridge.engine.scoring import score_abc
    from notabridge.onnx_export.checkpoint import load_model
    from notabridge.onnx_export.from_bundle import bundle_to_checkpoint
    from notabridge.onnx_export.torch_scoring import model_logits_fn

    model = load_model(bundle_to_checkpoint(tiny_bundle, tmp_path / "back.pth"))
    piece = "%%score 1\nL:1/8\nM:3/4\nK:G\nV:1 treble\n[V:1]G2 A2 B2|\n[V:1]c2 B2 A2|\n"
    onnx_side = score_abc(load_bundle(tiny_bundle, device="cpu"), piece)
    torch_side = score_abc(model_logits_fn(model), piece, context=model.sizes.patch_length)
    assert np.isclose(onnx_side.nats, torch_side.nats, rtol=1e-4)


def test_finetune_writes_a_bundle_with_the_new_prompt_and_resumes(tiny_bundle, tmp_path):
    folder = _folder(tmp_path / "mine")
    out = tmp_path / "mine_bundle"
    first = _cli("finetune", str(folder), "--name", "My style", "-o", str(out), "--base", str(tiny_bundle),
                 "--minutes", "0.05", "--quiet")
    assert first.returncode == 0, first.stderr + first.stdout
    assert "held-out bits/char" in first.stdout
    prompts = json.loads((out / "prompts.json").read_text())
    assert prompts[-1] == ["Custom", "My style", "Custom"] and len(prompts) == 3    # the tiny bundle's two + the new
    assert json.loads((out / "config.json").read_text())["name"] == "My style"
    assert (out / "bar_index.npz").is_file() and "My style" in (out / "MODEL_CARD.md").read_text()
    converted = json.loads((out / ".finetune/corpus/train.jsonl").read_text().splitlines()[0])["abc"]
    (tmp_path / "interleaved.abc").write_text(converted)      # the notation layer reads NotaGen's ABC only
    suggested = _cli("suggest-prompt", str(tmp_path / "interleaved.abc"), "--model", str(out), "--device", "cpu", "--json")
    assert suggested.returncode == 0, suggested.stderr
    assert len(json.loads(suggested.stdout)["suggestions"]) == 3
    again = _cli("finetune", str(folder), "--name", "My style", "-o", str(out), "--base", str(tiny_bundle),
                 "--minutes", "0.1", "--quiet")
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout and "resumed finetune" in again.stdout


def test_finetune_refuses_an_empty_or_unreadable_folder(tiny_bundle, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = _cli("finetune", str(empty), "--name", "X", "-o", str(tmp_path / "o1"), "--base", str(tiny_bundle))
    assert out.returncode == 1 and "holds no scores" in out.stderr and "Traceback" not in out.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.musicxml").write_text("<not music")
    (broken / "b.mid").write_bytes(b"MThd garbage")
    out = _cli("finetune", str(broken), "--name", "X", "-o", str(tmp_path / "o2"), "--base", str(tiny_bundle))
    assert out.returncode == 1 and "none of the scores" in out.stderr and "a.musicxml" in out.stderr
    missing = _cli("finetune", str(tmp_path / "nowhere"), "--name", "X", "-o", str(tmp_path / "o3"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr
