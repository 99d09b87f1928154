"""A NotaGen-small-shaped model that writes music: the embedded model's trained weights, widened.

    nice -n 10 python bench/small_shaped.py [--bundle models/default] [--work DIR]

No NotaGen-small-sized model can be trained on this project's 2-core CPU, and random weights
write no valid bars, accept few drafted characters and quantise unlike trained ones. This
builds a model of NotaGen-small's shape (d 768, 12 patch / 3 char layers, context 2048) that
computes what a smaller trained bundle computes:
- every hidden vector is the small one repeated 3 times ([h, h, h]): layer norms see the
  same mean and variance; each weight matrix becomes a 3x3 grid of copies divided by 3, so a
  product of repeated vectors is the repeated product; the 12 heads are 3 copies of the 4;
- the char decoder's final layer norm is divided by 3, since the tied lm head sums the copies;
- layers beyond the small model's are near-identity blocks (random weights, output
  projections scaled down 100x), positions beyond its context repeat its position table.
It reads every byte a real NotaGen-small reads per step (speed), and on real pieces it scores
within a few thousandths of a bit of the small model (printed), so int8 error, draft acceptance
and valid-bar rates measured on it are those of a trained model.
Writes WORK/small_shaped.pth and the fp32 bundle WORK/small_shaped_bundle (cached).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SMALL = dict(hidden_size=768, patch_num_layers=12, char_num_layers=3, patch_length=2048)
WIDEN = 3
EXTRA_LAYER_SCALE = 0.01


def state_from_bundle(bundle: Path) -> tuple[dict, dict]:
    """The NotaGen state dict (numpy) of an fp32 bundle, read back from its graphs' weights."""
    import json

    import onnx
    from onnx import numpy_helper

    config = json.loads((bundle / "config.json").read_text())
    d = config["hidden_size"]
    state: dict[str, np.ndarray] = {}
    for graph, prefix in (("patch_decoder", "patch_level_decoder."), ("char_decoder", "char_level_decoder.")):
        model = onnx.load(str(bundle / config["graphs"][graph]["file"]))
        for init in model.graph.initializer:
            value = numpy_helper.to_array(init)
            if init.name.startswith("decoder."):
                state[prefix + init.name[len("decoder."):]] = value
            elif graph == "patch_decoder" and value.shape == (16 * 128, d):   # the exporter's name for W^T
                state[prefix + "patch_embedding.weight"] = value.T.copy()
    state["patch_level_decoder.base.wte.weight"] = np.zeros((1, d), np.float32)   # NotaGen's unused row
    state["char_level_decoder.base.transformer.wte.weight"] = state["char_level_decoder.base.lm_head.weight"]
    return state, config


def widen(state: dict, config: dict, target: dict, seed: int = 0) -> dict:
    """`state` of a d-wide model -> a state of `target`'s shape computing the same function (module doc)."""
    r = target["hidden_size"] // config["hidden_size"]
    assert r * config["hidden_size"] == target["hidden_size"]
    rng = np.random.default_rng(seed)
    out = {}

    def vec(v):                  # a hidden-sized vector, repeated
        return np.tile(v, r)

    def mat(w, sections=1):      # Conv1D [in, out]; `sections`: q|k|v blocks of the output repeated apart
        parts = np.split(w, sections, axis=1)
        return np.concatenate([np.tile(p, (r, r)) / r for p in parts], axis=1)

    def bias(b, sections=1):
        return np.concatenate([np.tile(p, r) for p in np.split(b, sections)])

    for name, w in state.items():
        if name.endswith("attn.c_attn.weight"):
            out[name] = mat(w, 3)
        elif name.endswith("attn.c_attn.bias"):
            out[name] = bias(w, 3)
        elif name.endswith(("c_proj.weight", "c_fc.weight")):
            out[name] = mat(w)
        elif name.endswith(("c_proj.bias", "c_fc.bias")) or name.endswith(("ln_1.weight", "ln_1.bias", "ln_2.weight",
                                                                            "ln_2.bias", "ln_f.weight", "ln_f.bias")):
            out[name] = vec(w)
        elif name.endswith(("wte.weight", "wpe.weight", "lm_head.weight")):
            out[name] = np.tile(w, (1, r))
        elif name == "patch_level_decoder.patch_embedding.weight":      # nn.Linear [out, in]
            out[name] = np.tile(w, (r, 1))
        elif name == "patch_level_decoder.patch_embedding.bias":
            out[name] = vec(w)
        else:
            raise KeyError(f"no rule to widen {name}")
    for key in ("char_level_decoder.base.transformer.ln_f.weight", "char_level_decoder.base.transformer.ln_f.bias"):
        out[key] = out[key] / r                  # the tied lm head sums the r copies
    wpe = "patch_level_decoder.base.wpe.weight"
    reps = -(-target["patch_length"] // len(out[wpe]))
    out[wpe] = np.tile(out[wpe], (reps, 1))[:target["patch_length"]]
    for level, key, prefix in (("patch", "patch_num_layers", "patch_level_decoder.base.h."),
                               ("char", "char_num_layers", "char_level_decoder.base.transformer.h.")):
        for layer in range(config[key], target[key]):
            out.update(_near_identity_block(prefix + f"{layer}.", target["hidden_size"], rng))
    return out


def _near_identity_block(prefix: str, d: int, rng: np.random.Generator) -> dict:
    normal = lambda *shape: rng.normal(0, 0.02, shape).astype(np.float32)  # noqa: E731
    return {
        prefix + "ln_1.weight": np.ones(d, np.float32), prefix + "ln_1.bias": np.zeros(d, np.float32),
        prefix + "attn.c_attn.weight": normal(d, 3 * d), prefix + "attn.c_attn.bias": np.zeros(3 * d, np.float32),
        prefix + "attn.c_proj.weight": normal(d, d) * EXTRA_LAYER_SCALE, prefix + "attn.c_proj.bias": np.zeros(d, np.float32),
        prefix + "ln_2.weight": np.ones(d, np.float32), prefix + "ln_2.bias": np.zeros(d, np.float32),
        prefix + "mlp.c_fc.weight": normal(d, 4 * d), prefix + "mlp.c_fc.bias": np.zeros(4 * d, np.float32),
        prefix + "mlp.c_proj.weight": normal(4 * d, d) * EXTRA_LAYER_SCALE,
        prefix + "mlp.c_proj.bias": np.zeros(d, np.float32),
    }


def make_small_shaped(work: Path, source: Path) -> Path:
    """WORK/small_shaped_bundle (fp32), built once from `source`'s weights."""
    import torch

    from notabridge.onnx_export.export import export_bundle
    from notabridge.onnx_export.model import ModelSizes, NotaGenModel

    bundle = work / "small_shaped_bundle"
    if (bundle / "config.json").is_file():
        return bundle
    work.mkdir(parents=True, exist_ok=True)
    state, config = state_from_bundle(source)
    wide = widen(state, config, SMALL)
    model = NotaGenModel(ModelSizes(**SMALL))
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in wide.items()}, strict=True)
    checkpoint = work / "small_shaped.pth"
    torch.save({"model": model.state_dict()}, checkpoint)
    t = time.perf_counter()
    prompts = (source / "prompts.json").read_text() if (source / "prompts.json").is_file() else "[]"
    import json
    export_bundle(checkpoint, bundle, prompts=[tuple(p) for p in json.loads(prompts)], name="small-shaped",
                  model_card=f"# small-shaped\n\n{source.name}'s weights widened to NotaGen-small's shape "
                             f"(bench/small_shaped.py); for benchmarks only.\n")
    print(f"exported {bundle} in {time.perf_counter() - t:.0f} s", flush=True)
    return bundle


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=Path(__file__).resolve().parent.parent / "models" / "default")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "notabridge_bench")
    args = ap.parse_args()
    from int8_quality import bits, held_out_pieces, score

    bundle = make_small_shaped(args.work, args.bundle)
    pieces = held_out_pieces()
    a, b = score(args.bundle, pieces), score(bundle, pieces)
    print(f"held-out bits/char: {args.bundle.name} {bits(a):.4f}, small-shaped {bits(b):.4f} "
          f"({bits(b) - bits(a):+.4f}) on {sum(c for _, c in a.values()):,} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
