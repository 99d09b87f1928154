"""Log-likelihood of a piece under a NotaGen-family model, computed as NotaGen's training loss.

For patches [N, 16] (bos patch first): the patch decoder reads all N patches; for every patch
i >= 1 the char decoder gets the patch decoder's hidden state after patch i-1 at position 0 and
the characters of patch i at positions 1..16; the logits at position j predict character j of
patch i. Pad characters (0) are not scored; eos characters are. This equals NotaGen's
CharLevelDecoder loss (labels = [bos] + patch, pads -100, shifted by one) summed, not averaged.

Works on anything that maps ids to char logits (`LogitsFn`): a bundle through ONNX Runtime
(`bundle_logits_fn`) or, outside the runtime, the PyTorch model (notabridge.onnx_export.torch_scoring).
No torch here.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from .bundle import Bundle, cache_names, empty_cache
from notabridge.abc.patching import BOS_ID, PAD_ID, PATCH_SIZE, encode

# ids [N, 16] with N <= the model's context -> char logits [N-1, 17, 128]
LogitsFn = Callable[[np.ndarray], np.ndarray]
# patches per char-decoder batch: bounds memory on long pieces and large models
CHAR_BATCH = 128


@dataclass
class PieceScore:
    nats: float          # total negative log-likelihood, natural log
    chars: int           # characters scored
    patches: int         # patches in the piece (bos and eos patches included)
    windows: int         # context windows it was scored in (1 when it fits the context)

    @property
    def bits_per_char(self) -> float:
        return self.nats / self.chars / math.log(2) if self.chars else float("nan")

    @property
    def log_likelihood(self) -> float:
        return -self.nats

    def as_dict(self) -> dict:
        return asdict(self) | {"bits_per_char": self.bits_per_char, "log_likelihood": self.log_likelihood}


def bundle_logits_fn(bundle: Bundle) -> LogitsFn:
    """Teacher-forced char logits from a bundle's two graphs (empty caches, whole piece at once)."""
    cfg = bundle.config
    dtype = np.float16 if cfg["precision"] == "fp16" else np.float32

    def empty(level: str, batch: int, capacity: int = 0) -> dict:
        names = cache_names("past", cfg[f"{level}_num_layers"])
        return dict(zip(names, empty_cache(cfg, level, batch, capacity)))

    def logits(ids: np.ndarray) -> np.ndarray:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        feeds = {"patches": ids[None], "past_length": np.array(0, dtype=np.int64)} | empty("patch", 1, len(ids))
        hidden = bundle.patch_session.run(["hidden"], feeds)[0]
        targets = ids[1:]
        chars = np.concatenate([np.full((len(targets), 1), BOS_ID, dtype=np.int64), targets], axis=1)
        out = []
        for start in range(0, len(targets), CHAR_BATCH):
            part = slice(start, start + CHAR_BATCH)
            step = bundle.char_session.run(["logits"], {"chars": chars[part], "patch_hidden": hidden[0, :-1][part]}
                                           | empty("char", len(chars[part])))[0]
            out.append(step)
        return np.concatenate(out) if out else np.zeros((0, PATCH_SIZE + 1, 128), dtype=dtype)

    return logits


def patch_nats(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per target patch: nats of its non-pad characters and how many there are.

    logits [M, 17, 128] (position j predicts character j), targets [M, 16]."""
    z = logits[:, :PATCH_SIZE].astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    scored = targets != PAD_ID
    return -(picked * scored).sum(axis=1), scored.sum(axis=1)


def windows(n_patches: int, context: int) -> list[tuple[int, int]]:
    """Spans [start, end) of the target patches (index >= 1) each window holds after the bos patch.

    A piece that fits the context is one window. A longer one is scored in windows of the bos
    patch plus `context - 1` consecutive patches, advancing by half a context, each target
    scored once, in the first window where it has at least half a context of history (or
    from the start)."""
    span = context - 1
    stride = max(1, span // 2)
    spans, start = [], 1
    while True:
        end = min(start + span, n_patches)
        spans.append((start, end))
        if end == n_patches:
            return spans
        start += stride


def score_ids(model: Bundle | LogitsFn, ids: np.ndarray, context: int | None = None) -> PieceScore:
    """Score patches `ids` [N, 16]; pieces longer than the context are scored in windows."""
    if isinstance(model, Bundle):
        context = context or model.config["patch_length"]
        logits_fn = bundle_logits_fn(model)
    else:
        logits_fn = model
        if context is None:
            raise ValueError("context (the model's patch_length) is needed with a logits function")
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 2 or ids.shape[1] != PATCH_SIZE or len(ids) < 2:
        raise ValueError(f"expected patches [N >= 2, {PATCH_SIZE}] with the bos patch first, got shape {list(ids.shape)}")
    spans = windows(len(ids), context)
    nats, chars, done = 0.0, 0, 1  # targets before `done` are scored
    for start, end in spans:
        window = np.concatenate([ids[:1], ids[start:end]])  # window[1] is ids[start]
        per_patch, counts = patch_nats(logits_fn(window), window[1:])
        keep = slice(done - start, None)
        nats += float(per_patch[keep].sum())
        chars += int(counts[keep].sum())
        done = end
    return PieceScore(nats=nats, chars=chars, patches=len(ids), windows=len(spans))


def score_abc(model: Bundle | LogitsFn, abc_text: str, context: int | None = None) -> PieceScore:
    """Score interleaved ABC text, patched exactly as NotaGen's training does (notabridge.abc.patching.encode)."""
    return score_ids(model, encode(abc_text), context)
