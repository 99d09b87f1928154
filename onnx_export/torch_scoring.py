"""The PyTorch side of `notabridge score`: char logits of a checkpoint's model, for notabridge.engine.scoring.

notabridge.engine.scoring does the windowing and the loss, so a checkpoint and the bundle exported from it
are scored by the same code and differ only in the model run.
"""
from __future__ import annotations

import numpy as np
import torch

from .model import NotaGenModel


def model_logits_fn(model: NotaGenModel):
    """ids [N, 16] -> char logits [N-1, 17, 128] (float32 numpy), whole piece at once."""

    def logits(ids: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model.char_logits(torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))).float().numpy()

    return logits
