"""Loading NotaGen `.pth` checkpoints safely and strictly.

The sizes of the model are read off the tensors (nothing else in a NotaGen file records them),
then the state dict must match the architecture key for key and shape for shape.
"""
from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch

from .model import PATCH_SIZE, VOCAB_SIZE, ModelSizes, NotaGenModel

# Mask buffers that older transformers versions saved with GPT-2 attention layers.
_IGNORED = re.compile(r".*\.attn\.(bias|masked_bias)$")
_PATCH_EMBED = "patch_level_decoder.patch_embedding.weight"
_PATCH_WPE = "patch_level_decoder.base.wpe.weight"
_PATCH_LAYER = re.compile(r"^patch_level_decoder\.base\.h\.(\d+)\.")
_CHAR_LAYER = re.compile(r"^char_level_decoder\.base\.transformer\.h\.(\d+)\.")


class CheckpointError(ValueError):
    """A file that is not a loadable NotaGen checkpoint; the message says what is wrong."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the `model` state dict of a NotaGen `.pth` without running any code from the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before refusing
            blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused to load: the file holds Python objects other than tensors "
            f"(a pickle that could run code). NotaGen checkpoints hold only tensors. Detail: {_unpickling_detail(exc)}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupt?): {_first_line(exc)}"
        ) from None
    if isinstance(blob, dict) and "model" in blob and isinstance(blob["model"], dict):
        state = blob["model"]
    elif isinstance(blob, dict) and _PATCH_EMBED in blob:
        state = blob  # a bare state dict
    else:
        keys = ", ".join(sorted(map(str, blob))[:6]) if isinstance(blob, dict) else type(blob).__name__
        raise CheckpointError(f"{path}: no 'model' state dict in this file (found: {keys})")
    return {k: v for k, v in state.items() if not _IGNORED.match(k)}


def infer_sizes(state: dict[str, torch.Tensor]) -> ModelSizes:
    """Read hidden size, layer counts and context length off the tensors."""
    for key in (_PATCH_EMBED, _PATCH_WPE):
        if key not in state:
            raise CheckpointError(f"not a NotaGen checkpoint: missing {key}")
    d, flat = state[_PATCH_EMBED].shape
    if flat % VOCAB_SIZE or d % 64:
        raise CheckpointError(
            f"not a NotaGen checkpoint: {_PATCH_EMBED} has shape {list(state[_PATCH_EMBED].shape)}, "
            f"expected [hidden (a multiple of 64), patch_size*128]"
        )
    patch_layers = _count_layers(state, _PATCH_LAYER)
    char_layers = _count_layers(state, _CHAR_LAYER)
    if not patch_layers or not char_layers:
        raise CheckpointError("not a NotaGen checkpoint: it has no transformer layers for "
                              + ("the patch decoder" if not patch_layers else "the char decoder"))
    return ModelSizes(hidden_size=d, patch_num_layers=patch_layers, char_num_layers=char_layers,
                      patch_length=state[_PATCH_WPE].shape[0], patch_size=flat // VOCAB_SIZE)


def check_state_dict(state: dict[str, torch.Tensor], sizes: ModelSizes) -> None:
    """Strict key and shape check against the architecture; the error lists what differs."""
    expected = _shapes_only(sizes)
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = [f"{k}: {list(state[k].shape)} (expected {list(expected[k].shape)})"
             for k in sorted(set(expected) & set(state)) if tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = []
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_sample(missing)}")
    if extra:
        problems.append(f"unexpected keys ({len(extra)}): {_sample(extra)}")
    if wrong:
        problems.append(f"wrong shapes ({len(wrong)}): {_sample(wrong)}")
    if problems:
        raise CheckpointError("not a NotaGen checkpoint of the shape its tensors suggest "
                              f"({describe(sizes)}): " + "; ".join(problems))


def load_model(path: str | Path, dtype: torch.dtype = torch.float32) -> NotaGenModel:
    """Load a NotaGen checkpoint of any released size, strictly, in eval mode."""
    state = read_state_dict(path)
    sizes = infer_sizes(state)
    check_state_dict(state, sizes)
    with torch.device("meta"):
        model = NotaGenModel(sizes)
    model.load_state_dict(state, strict=True, assign=True)
    # assign=True broke the tie between lm_head and wte; NotaGen ties them, so tie again
    model.char_level_decoder.base.lm_head.weight = model.char_level_decoder.base.transformer.wte.weight
    return model.to(dtype).eval()


def describe(sizes: ModelSizes) -> str:
    return (f"d={sizes.hidden_size}, {sizes.patch_num_layers} patch layers, {sizes.char_num_layers} char layers, "
            f"{sizes.patch_length} patches of {sizes.patch_size}")


def _shapes_only(sizes: ModelSizes) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return NotaGenModel(sizes).state_dict()


def _count_layers(state: dict, pattern: re.Pattern) -> int:
    found = {int(m.group(1)) for k in state if (m := pattern.match(k))}
    return max(found) + 1 if found else 0


def _sample(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f", ... (+{len(items) - n} more)" if len(items) > n else "")


def _unpickling_detail(exc: BaseException) -> str:
    """The line of torch's refusal that names the offending object, not its advice to turn
    the safety off."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line or line.startswith("Unsupported")]
    return (named or lines or [type(exc).__name__])[0][:300]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


__all__ = ["CheckpointError", "read_state_dict", "infer_sizes", "check_state_dict", "load_model", "PATCH_SIZE"]
