"""training.train on a tiny model and a small hand-written corpus: the loss falls, a stopped
run resumes where it stopped, and the checkpoint is a NotaGen .pth that the loader accepts."""
from __future__ import annotations

import json
from pathlib import Path
import random

import numpy as np
import pytest
import torch

from notabridge.abc.patching import encode
from notabridge.onnx_export.checkpoint import load_model
from training import train
from training.data import PieceCache, collate, evaluation_batches, read_jsonl
from training.objective import NotaGenObjective
from training.windows import encode_piece, evaluation_windows

TINY = ["--hidden", "64", "--patch-layers", "1", "--char-layers", "1", "--patch-length", "32",
        "--batch-patches", "128", "--warmup-steps", "2", "--lr", "3e-3", "--quiet", "--threads", "1"]


def scale_piece(rng: random.Random, bars: int) -> str:
    """Two voices walking up and down a scale: structure a tiny model learns in a few steps."""
    notes = "CDEFGABcdefgab"
    start = rng.randrange(7)
    body = ""
    for i in range(bars):
        up = "".join(notes[(start + i + j) % 14] + "2" for j in range(4))
        body += f"[V:1]{up}|[V:2]{notes[(start + i) % 7]},8|\n"
    return f"%%score {{ 1 | 2 }}\nL:1/8\nM:4/4\nK:C\nV:1 treble\nV:2 bass\n{body}"


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    rng = random.Random(1)
    for split, count in (("train", 24), ("validation", 4)):
        with open(out / f"{split}.jsonl", "w") as f:
            for i in range(count):
                rec = {"id": f"{split}{i}", "prompt": ["Classical", "Scale, Test", "Keyboard"],
                       "abc": scale_piece(rng, rng.randint(4, 30)), "pretrain": [], "finetune": []}
                f.write(json.dumps(rec) + "\n")
    return out


def validation_loss(model, corpus_dir, phase="pretrain") -> float:
    cache = PieceCache(read_jsonl(corpus_dir / "validation.jsonl"))
    objective = NotaGenObjective(model).eval()
    total = count = 0.0
    with torch.no_grad():
        for batch in evaluation_batches(cache, phase, model.sizes.patch_length, 128):
            p, n = collate(batch)
            loss, chars = objective(torch.from_numpy(p), torch.from_numpy(n))
            total, count = total + float(loss), count + float(chars)
    return total / count


def test_windows_cover_every_body_patch_once():
    text = scale_piece(random.Random(0), 40)
    piece = encode_piece(text)
    windows = evaluation_windows(piece, 32)
    assert len(windows) > 1 and all(len(w) <= 32 for w in windows)
    header = len(piece.header)
    body = np.concatenate([w[1 + header:] for w in windows])
    assert len(body) - len(piece.body) in (0, 1)  # + the eos patch when the last window has room
    assert np.array_equal(body[:len(piece.body)], piece.body)
    # the whole-piece encoding is NotaGen's encoder's output
    assert np.array_equal(np.concatenate([w for w in evaluate_full(text)]), encode(text))


def evaluate_full(text):
    return evaluation_windows(encode_piece(text), 10_000)


def test_loss_falls_resume_continues_and_checkpoint_loads(corpus_dir, tmp_path):
    run = tmp_path / "run"
    torch.manual_seed(0)
    base = [*TINY, "--data", str(corpus_dir), "--out", str(run), "--phases", "pretrain"]
    assert train.main([*base, "--max-steps", "15"]) == 0
    first = torch.load(run / "last.pth", weights_only=True)
    assert first["progress"]["step"] == 15
    assert set(first) >= {"model", "optimizer", "lr_sched", "epoch", "best_epoch", "min_eval_loss"}

    # a fresh model of the same size scores the held-out pieces far worse than the trained one
    from notabridge.onnx_export.model import NotaGenModel
    torch.manual_seed(0)
    untrained = NotaGenModel(load_model(run / "last.pth").sizes)
    trained_loss = validation_loss(load_model(run / "last.pth"), corpus_dir)
    assert trained_loss < 0.7 * validation_loss(untrained, corpus_dir)

    # resume: the step counter and the optimizer state carry on; size options come from the file
    assert train.main(["--data", str(corpus_dir), "--out", str(run), "--resume", "--max-steps", "25", "--quiet"]) == 0
    second = torch.load(run / "last.pth", weights_only=True)
    assert second["progress"]["step"] == 25
    assert float(second["optimizer"]["state"][0]["step"]) == 25  # AdamW's own count: not restarted
    assert validation_loss(load_model(run / "last.pth"), corpus_dir) < trained_loss


def test_cosine_decay_ends_at_the_floor_of_the_time_budget(corpus_dir, tmp_path):
    ends = {}
    for decay in ("none", "cosine"):
        run = tmp_path / decay
        assert train.main([*TINY, "--data", str(corpus_dir), "--out", str(run), "--phases", "pretrain",
                           "--max-minutes", "0.04", "--decay", decay, "--min-lr-ratio", "0.1"]) == 0
        blob = torch.load(run / "last.pth", weights_only=True)
        assert blob["progress"]["step"] > 2      # past the warm-up
        ends[decay] = blob["optimizer"]["param_groups"][0]["lr"]
        assert "lr " in (run / "train.log").read_text()
    assert ends["none"] == pytest.approx(3e-3)          # NotaGen's schedule: constant after warm-up
    assert ends["cosine"] == pytest.approx(3e-4)        # a tenth when the budget is spent


def test_a_phase_ends_when_validation_stops_improving(corpus_dir, tmp_path):
    run = tmp_path / "patient"
    # lr 0: the loss never moves, so every check after the first finds nothing better
    assert train.main([*TINY, "--data", str(corpus_dir), "--out", str(run), "--phases", "pretrain", "--lr", "0",
                       "--eval-minutes", "0", "--patience", "2", "--max-steps", "50"]) == 0
    blob = torch.load(run / "last.pth", weights_only=True)
    assert blob["progress"]["step"] == 3                     # best at step 1, then two checks without better
    assert "no better validation in 2 checks" in (run / "train.log").read_text()


def test_finetune_phase_reads_prompt_lines(corpus_dir, tmp_path):
    run = tmp_path / "ft"
    assert train.main([*TINY, "--data", str(corpus_dir), "--out", str(run), "--max-steps", "6",
                       "--pretrain-epochs", "0.2"]) == 0
    blob = torch.load(run / "last.pth", weights_only=True)
    assert blob["progress"]["phase"] == "finetune"
    log = (run / "train.log").read_text()
    assert "[pretrain]" in log and "[finetune]" in log
    # the fine-tuning text starts with the three prompt lines
    from training.data import piece_text
    piece = read_jsonl(corpus_dir / "train.jsonl")[0]
    assert piece_text(piece, "finetune").startswith("%Classical\n%Scale, Test\n%Keyboard\n")
    assert piece_text(piece, "pretrain").startswith("%%score")


def test_same_command_runs_under_torchrun_ddp(corpus_dir, tmp_path):
    """Two CPU processes (gloo) through torchrun: the ranks share the batches and rank 0
    writes a checkpoint the loader accepts. (GPUs use the same code path with nccl.)"""
    import shutil
    import subprocess
    import sys
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    run = tmp_path / "ddp"
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "training.train", *TINY,
           "--data", str(corpus_dir), "--out", str(run), "--max-steps", "4", "--phases", "pretrain"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 process(es)" in (run / "train.log").read_text()
    assert torch.load(run / "last.pth", weights_only=True)["progress"]["step"] == 4
    load_model(run / "last.pth")
