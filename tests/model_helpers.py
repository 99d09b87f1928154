"""Tiny random NotaGen checkpoints and bundles for tests (torch is a test dependency)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from notabridge.onnx_export.model import ModelSizes, NotaGenModel

REPO = Path(__file__).resolve().parent.parent
TINY = ModelSizes(hidden_size=128, patch_num_layers=2, char_num_layers=2, patch_length=64)
TINY_PROMPTS = [("Baroque", "Bach, Johann Sebastian", "Choral"), ("Romantic", "Chopin, Frederic", "Keyboard")]


def random_model(sizes: ModelSizes = TINY, seed: int = 0) -> NotaGenModel:
    """A model whose every tensor is random (LayerNorm and biases too), so parity tests
    exercise all weights, not just the matrices."""
    gen = torch.Generator().manual_seed(seed)
    model = NotaGenModel(sizes)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                param.copy_(1.0 + 0.1 * noise)
            elif param.ndim == 1:
                param.copy_(0.05 * noise)
            else:
                param.copy_(0.08 * noise)
    return model.eval()


def write_checkpoint(path: str | Path, sizes: ModelSizes = TINY, seed: int = 0) -> Path:
    """Save in NotaGen's training-checkpoint layout: {'model', 'optimizer', 'epoch'}."""
    path = Path(path)
    model = random_model(sizes, seed)
    torch.save({"model": model.state_dict(), "optimizer": {"state": {}, "param_groups": []}, "epoch": 7}, path)
    return path


def run_notabridge(*args, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run the `notabridge` command line as a user would (same entry point as the console
    script, `notabridge.cli.main:main`, through this interpreter so no install step is needed)."""
    return subprocess.run([sys.executable, "-m", "notabridge.cli.main", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


def random_patches(n: int, seed: int = 0) -> torch.Tensor:
    """[n, 16] ids shaped like real patches: a bos patch, then printable characters ending in
    eos and right-padded with 0 (some full patches without eos), then an eos patch."""
    gen = torch.Generator().manual_seed(seed)
    rows = [[1] * 15 + [2]]
    for _ in range(n - 2):
        length = int(torch.randint(1, 17, (1,), generator=gen))
        chars = torch.randint(32, 127, (length,), generator=gen).tolist()
        rows.append((chars + [2] + [0] * 16)[:16])
    rows.append([1] + [2] * 15)
    return torch.tensor(rows, dtype=torch.long)
