"""The weights of a bundle's ONNX graphs back as a NotaGen state dict, to fine-tune a model whose
training checkpoint is not at hand (the embedded model ships only its bundle).

The exporter keeps the parameters' names (`decoder.` + the module path) except for two: the
patch embedding, which it stores transposed under a generated name (the only [16*128, hidden]
matrix of the patch graph), and the char decoder's token embedding, tied to its `lm_head`.
The patch decoder's token embedding is never read by NotaGen's model (its inputs are patch
embeddings) and is not in the graph: it comes back as zeros. fp32 bundles only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from notabridge.engine.bundle import read_config

from .checkpoint import check_state_dict, infer_sizes

_PREFIX = {"patch_decoder": "patch_level_decoder.", "char_decoder": "char_level_decoder."}


class BundleWeightsError(ValueError):
    """The bundle's graphs do not hold a NotaGen model's weights in the expected form."""


def bundle_state_dict(bundle_dir: str | Path) -> dict[str, torch.Tensor]:
    """The NotaGen-layout state dict of an fp32 bundle (checked key for key against the architecture)."""
    bundle_dir = Path(bundle_dir)
    config = read_config(bundle_dir)
    if config["precision"] != "fp32":
        raise BundleWeightsError(f"{bundle_dir} is a {config['precision']} bundle: fine-tune from an fp32 bundle "
                                 "or from the checkpoint it was exported from")
    hidden, flat = config["hidden_size"], config["patch_size"] * config["vocab_size"]
    state: dict[str, torch.Tensor] = {}
    for graph, prefix in _PREFIX.items():
        model = onnx.load(str(bundle_dir / config["graphs"][graph]["file"]))
        for init in model.graph.initializer:
            array = numpy_helper.to_array(init)
            if init.name.startswith("decoder."):
                state[prefix + init.name[len("decoder."):]] = torch.from_numpy(np.array(array, dtype=np.float32))
            elif graph == "patch_decoder" and array.shape == (flat, hidden):
                state[prefix + "patch_embedding.weight"] = torch.from_numpy(np.ascontiguousarray(array.T, dtype=np.float32))
    lm_head = state.get("char_level_decoder.base.lm_head.weight")
    if lm_head is None or "patch_level_decoder.patch_embedding.weight" not in state:
        raise BundleWeightsError(f"{bundle_dir}: cannot find the patch embedding or the char decoder's lm_head in its graphs")
    state["char_level_decoder.base.transformer.wte.weight"] = lm_head.clone()
    sizes = infer_sizes(state | {"patch_level_decoder.base.wte.weight": torch.zeros(1, hidden)})
    with torch.device("meta"):
        from .model import NotaGenModel
        wte_shape = NotaGenModel(sizes).state_dict()["patch_level_decoder.base.wte.weight"].shape
    state["patch_level_decoder.base.wte.weight"] = torch.zeros(wte_shape)
    check_state_dict(state, sizes)
    return state


def bundle_to_checkpoint(bundle_dir: str | Path, out: str | Path) -> Path:
    """Write the bundle's weights as a NotaGen-layout .pth ({'model': state dict})."""
    out = Path(out)
    torch.save({"model": bundle_state_dict(bundle_dir), "epoch": 0, "best_epoch": 0, "min_eval_loss": float("inf")}, out)
    return out
