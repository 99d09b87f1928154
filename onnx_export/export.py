"""Write a model bundle (docs/bundle.md) from a NotaGen `.pth` checkpoint.

Two one-step graphs with per-layer key/value caches (one input and one output per layer and
kind: no Gather of a layer's slice, no restacking of the presents), exported with torch's dynamo-based ONNX
exporter (`torch.onnx.export(..., dynamo=True)`, the maintained one; the TorchScript exporter
is deprecated). Batch and lengths are symbolic dims, so one graph serves an empty (length 0)
cache, a prompt of many patches and single steps. The exporter's optimiser shares the tied
`lm_head`/`wte` matrix in the char graph (one initializer, no copy).
A graph whose weights pass protobuf's 2 GB limit keeps them in a `<graph>.data` file next to it,
listed in config.json; smaller graphs are single files.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from notabridge.engine.bundle import cache_names, sha256_file

from .checkpoint import describe, load_model
from .model import BOS_ID, EOS_ID, HEAD_DIM, PAD_ID, NotaGenModel, count_parameters

OPSET = 18
# 1: caches stacked over layers; 2: one cache input/output per layer; 3: the patch graph's
# caches are fixed-capacity buffers updated in place (GroupQueryAttention) + `past_length`
FORMAT_VERSION = 3
MS_DOMAIN = "com.microsoft"
PATCH_GRAPH = "patch_decoder.onnx"
CHAR_GRAPH = "char_decoder.onnx"
# protobuf refuses messages of 2 GiB; keep a margin for the graph itself
_SINGLE_FILE_LIMIT = 2**31 - 64 * 2**20


def _split(past: tuple) -> tuple[tuple, tuple]:
    return past[0::2], past[1::2]


def _interleave(keys: tuple, values: tuple) -> tuple:
    return tuple(t for pair in zip(keys, values) for t in pair)


class PatchStep(nn.Module):
    """patches [B,T,16], past_length [], cache buffers (k0, v0, k1, ...) each [B,H,capacity,64]
    -> hidden [B,T,d], the buffers with the new positions written (k0, v0, ...)."""

    def __init__(self, model: NotaGenModel):
        super().__init__()
        self.decoder = model.patch_level_decoder

    def forward(self, patches, past_length, past):
        hidden, keys, values = self.decoder(patches, *_split(past), past_length)
        return (hidden, *_interleave(keys, values))


def _gqa_schema() -> None:
    """onnxscript emits only ops whose schema it knows; ONNX Runtime's contrib op
    com.microsoft GroupQueryAttention is not in onnx's registry, so declare the part we use."""
    if onnx.defs.has("GroupQueryAttention", MS_DOMAIN):
        return
    P = onnx.defs.OpSchema
    inputs = [("query", "T"), ("key", "T"), ("value", "T"), ("past_key", "T"), ("past_value", "T"),
              ("seqlens_k", "M"), ("total_sequence_length", "M")]
    onnx.defs.register_schema(P(
        "GroupQueryAttention", MS_DOMAIN, 1,
        inputs=[P.FormalParameter(n, t) for n, t in inputs],
        outputs=[P.FormalParameter(n, "T") for n in ("output", "present_key", "present_value")],
        type_constraints=[("T", ["tensor(float)", "tensor(float16)"], ""), ("M", ["tensor(int32)"], "")],
        attributes=[P.Attribute("num_heads", P.AttrType.INT, ""), P.Attribute("kv_num_heads", P.AttrType.INT, "")]))


def _buffered_attention_onnx(q, k, v, key_buffer, value_buffer, past_length):
    """notabridge::buffered_attention as ORT's GroupQueryAttention: with the present bound to the
    past's buffer (bridge/engine/runtime.py) it writes the new positions in place and reads the first
    past_length + T positions: no copy of the cache per step."""
    import onnxscript
    from onnxscript import opset18 as op

    heads = q.shape[2] // HEAD_DIM
    int32 = onnx.TensorProto.INT32
    total = op.Add(past_length, op.Shape(q, start=1, end=2))  # [1], int64
    seqlens = op.Cast(op.Expand(op.Sub(total, op.Constant(value_int=1)), op.Shape(q, start=0, end=1)), to=int32)
    ms = onnxscript.values.Opset(MS_DOMAIN, 1)
    return ms.GroupQueryAttention(q, k, v, key_buffer, value_buffer, seqlens, op.Cast(op.Squeeze(total), to=int32),
                                  num_heads=heads, kv_num_heads=heads)


class CharStep(nn.Module):
    """chars [B,T], patch_hidden [B,d], past (k0, v0, ...) each [B,H,P,64] -> logits [B,T,128], present k0, v0, ..."""

    def __init__(self, model: NotaGenModel):
        super().__init__()
        self.decoder = model.char_level_decoder

    def forward(self, chars, patch_hidden, past):
        logits, keys, values = self.decoder(chars, patch_hidden, *_split(past))
        return (logits, *_interleave(keys, values))


def export_bundle(checkpoint_path: str | Path, out_dir: str | Path, fp16: bool = False,
                  prompts: list[tuple[str, str, str]] | None = None, name: str | None = None,
                  model_card: str | None = None) -> dict:
    """Export `checkpoint_path` into the bundle folder `out_dir`; returns the config written.

    `prompts`: (period, composer, instrumentation) triples the model knows (prompts.json).
    `model_card`: text for MODEL_CARD.md (where the weights came from, data, licence,
    quality); a card naming the checkpoint and saying what is unknown is written otherwise.
    """
    checkpoint_path = Path(checkpoint_path)
    out_dir = Path(out_dir)
    model = load_model(checkpoint_path, torch.float16 if fp16 else torch.float32)
    out_dir.mkdir(parents=True, exist_ok=True)
    parameters = count_parameters(model.state_dict())
    sizes = model.sizes
    lp, lc = sizes.patch_num_layers, sizes.char_num_layers
    graphs = {
        "patch_decoder": _export_graph(PatchStep(model), _patch_example(model), PATCH_GRAPH,
                                       ["patches", "past_length"], cache_names("past", lp),
                                       ["hidden", *cache_names("present", lp)],
                                       {"patches": {0: "batch", 1: "new_patches"}, "past_length": {}}, out_dir,
                                       cache_length="cache_capacity"),
        "char_decoder": _export_graph(CharStep(model), _char_example(model), CHAR_GRAPH,
                                      ["chars", "patch_hidden"], cache_names("past", lc),
                                      ["logits", *cache_names("present", lc)],
                                      {"chars": {0: "batch", 1: "new_chars"}, "patch_hidden": {0: "batch"}},
                                      out_dir),
    }
    config = {
        "format": "notabridge-bundle", "format_version": FORMAT_VERSION,
        **sizes.as_dict(),
        "special_ids": {"pad": PAD_ID, "bos": BOS_ID, "eos": EOS_ID},
        "parameters": parameters, "precision": "fp16" if fp16 else "fp32", "opset": OPSET,
        "graphs": graphs,
        "source": {"checkpoint": checkpoint_path.name, "sha256": sha256_file(checkpoint_path)},
        "name": name or out_dir.resolve().name,
    }
    prompt_list = [list(p) for p in (prompts or [])]
    _write_json(out_dir / "config.json", config)
    _write_json(out_dir / "prompts.json", prompt_list)
    (out_dir / "MODEL_CARD.md").write_text(model_card or default_model_card(config, describe(sizes), len(prompt_list)))
    return config


def _patch_example(model: NotaGenModel):
    dtype = model.patch_level_decoder.patch_embedding.weight.dtype
    keys, values = _example_cache(model, "patch", dtype, length=8)  # buffers: 2 cached + 3 new fit
    return (torch.full((2, 3, model.sizes.patch_size), 5, dtype=torch.long), torch.tensor(2),
            _interleave(keys, values))


def _char_example(model: NotaGenModel):
    dtype = model.patch_level_decoder.patch_embedding.weight.dtype
    keys, values = _example_cache(model, "char", dtype)
    hidden = torch.zeros(2, model.sizes.hidden_size, dtype=dtype)
    return (torch.full((2, 3), 5, dtype=torch.long), hidden, _interleave(keys, values))


def _example_cache(model: NotaGenModel, level: str, dtype, length: int = 2):
    """A non-empty per-layer cache to trace with, so no shape gets specialised to 0 or 1."""
    keys, _ = model.empty_cache(level, 2, dtype)
    layers, batch, heads, _, head_dim = keys.shape
    zeros = [torch.zeros(batch, heads, length, head_dim, dtype=dtype) for _ in range(layers)]
    return tuple(zeros), tuple(torch.zeros_like(z) for z in zeros)


def _export_graph(module: nn.Module, example: tuple, filename: str, inputs: list[str], cache_inputs: list[str],
                  outputs: list[str], dynamic: dict, out_dir: Path, cache_length: str = "past_length") -> dict:
    """Export with torch's dynamo exporter; `dynamic` maps input name -> {axis: dim name}.
    The module's last argument is the tuple of cache tensors named `cache_inputs`."""
    dims: dict[str, torch.export.Dim] = {}

    def axes(spec: dict) -> dict:
        return {axis: dims.setdefault(dim, torch.export.Dim(dim)) for axis, dim in spec.items()}

    shapes = [axes(dynamic[name]) or None for name in inputs]
    shapes.append(tuple(axes({0: "batch", 2: cache_length}) for _ in cache_inputs))
    _gqa_schema()
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(module, example, None, input_names=inputs + cache_inputs, output_names=outputs,
                                    custom_translation_table={
                                        torch.ops.notabridge.buffered_attention.default: _buffered_attention_onnx},
                                    dynamic_shapes=tuple(shapes), opset_version=OPSET, dynamo=True,
                                    optimize=True, verbose=False)
    return _save_graph(program, out_dir, filename)


@contextlib.contextmanager
def _quiet():
    """The exporter prints progress lines and logs warnings about optional packages
    (torchvision); none of it concerns the user of `notabridge export`."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _save_graph(program: torch.onnx.ONNXProgram, out_dir: Path, filename: str) -> dict:
    """Single file when the weights fit in protobuf; otherwise they go to `<filename>.data`.

    Sized from the in-memory graph, so a model over 2 GB is never turned into one proto."""
    path = out_dir / filename
    data_path = out_dir / (filename + ".data")
    data_path.unlink(missing_ok=True)
    weights = sum(v.const_value.nbytes for v in program.model.graph.initializers.values() if v.const_value is not None)
    external = weights > _SINGLE_FILE_LIMIT
    with _quiet():
        program.save(path, external_data=external)
    entry = {"file": filename, "sha256": sha256_file(path)}
    if external:
        if not data_path.is_file():
            raise RuntimeError(f"the exporter did not write {data_path.name} next to {filename}")
        entry["data"] = {"file": data_path.name, "sha256": sha256_file(data_path)}
    return entry


def default_model_card(config: dict, shape: str, n_prompts: int) -> str:
    src = config["source"]
    return f"""# {config['name']}

NotaGen-architecture model exported by `notabridge export`.

| | |
|---|---|
| source checkpoint | `{src['checkpoint']}` (sha256 `{src['sha256']}`) |
| shape | {shape} |
| parameters | {config['parameters']:,} |
| precision | {config['precision']} |
| known prompts | {n_prompts} |

## Where the weights came from, training data and licence

Not recorded by the export: the checkpoint does not say. For NotaGen's released weights see
the NotaGen release (its model cards state the training data and licence); for checkpoints
trained with this repository's `training/`, see the card written by training.

## Measured quality

Not measured at export. `notabridge score BUNDLE piece.abc` gives bits per character on a
held-out piece.
"""


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")
