"""int8 bundles: ONNX Runtime's dynamic quantisation of the weight matrices, chosen by measured error.

What becomes int8: the four weight matrices of every transformer block (attention's c_attn and
c_proj, the MLP's c_fc and c_proj), as ONNX Runtime's dynamic int8 MatMul (int8 weights, one
scale per matrix; activations quantised to uint8 per call). They are ~98% of the bytes a new
patch reads, and reading fewer bytes is what makes a memory-bound decoder faster.
What stays fp32 always: the patch embedding and the lm head (small, and every character goes
through them), attention itself (GroupQueryAttention, the char graph's score products),
layer norms, and the caches; so the graphs' inputs and outputs, and the engine, do not change.

Which blocks are quantised is decided by measurement: with every group (graph x matrix kind)
quantised, the error against the fp32 graphs is measured on calibration pieces (teacher
forced, as `notabridge score` scores); while it is over the budget, the group whose return to
fp32 lowers the error most goes back to fp32. The error is the change in bits per character
and the mean KL divergence of the next-character distributions, both recorded in config.json.
Needs onnx (the 'export' extra); no torch.
"""
from __future__ import annotations

import json
import logging
import math
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from notabridge.engine.bundle import Bundle, load_bundle, read_config, session_options, sha256_file
from notabridge.abc.patching import PAD_ID, encode
from notabridge.engine.scoring import bundle_logits_fn

GRAPHS = ("patch_decoder", "char_decoder")
ALWAYS_FP32 = ("patch embedding", "lm head", "attention", "layer norms", "caches")
KINDS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
_BLOCK_WEIGHT = re.compile(r"\.h\.(\d+)\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$")
# the quality bar is 0.01 bits/char on held-out pieces; choose on calibration pieces with margin
DEFAULT_BUDGET = 0.005
DEFAULT_KL_BUDGET = 0.02
# music21 corpus pieces (training side of training.corpus's split, so held-out pieces stay unseen)
CALIBRATION_WORKS = ("bach/bwv66.6", "bach/bwv4.8", "haydn/opus74no1/movement1", "mozart/k80/movement1")
CALIBRATION_PATCHES = 192   # per piece: ~2,500 characters, enough to rank the groups


class QuantizeError(ValueError):
    """The bundle cannot be quantised as asked (the message says why and what to do)."""


@dataclass
class Measured:
    """Error of a quantised pair of graphs against the fp32 ones, on the calibration characters."""
    bits_per_char_fp32: float
    bits_per_char: float
    kl_bits_per_char: float   # mean KL(fp32 || int8) of the next-character distributions
    chars: int

    @property
    def delta(self) -> float:
        return self.bits_per_char - self.bits_per_char_fp32

    def within(self, budget: float, kl_budget: float) -> bool:
        return abs(self.delta) <= budget and self.kl_bits_per_char <= kl_budget

    def as_dict(self) -> dict:
        return asdict(self) | {"delta_bits_per_char": self.delta}


def block_weight_nodes(graph_file: Path) -> dict[str, list[str]]:
    """kind (KINDS) -> names of the Gemm/MatMul nodes of the blocks' weight matrices of that kind."""
    import onnx

    model = onnx.load(str(graph_file), load_external_data=False)
    weights = {i.name for i in model.graph.initializer}
    groups: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for node in model.graph.node:
        if node.op_type not in ("Gemm", "MatMul"):
            continue
        for name in node.input:
            match = _BLOCK_WEIGHT.search(name) if name in weights else None
            if match:
                groups[match.group(2)].append(node.name)
    return {k: v for k, v in groups.items() if v}


def default_calibration() -> list[str]:
    """A few real pieces of music21's corpus as interleaved ABC (notabridge.notation)."""
    import warnings

    from music21 import corpus

    from notabridge.notation import to_abc

    texts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for work in CALIBRATION_WORKS:
            texts.append(to_abc(str(corpus.getWork(work))))
    return texts


class _Calibration:
    """Teacher-forced next-character log-probabilities of the calibration pieces."""

    def __init__(self, texts: list[str], patch_length: int):
        limit = min(patch_length, CALIBRATION_PATCHES)
        self.pieces = [ids[:limit] for ids in (encode(t) for t in texts) if len(ids) >= 2]
        if not self.pieces:
            raise QuantizeError("no calibration piece holds two patches: give longer ABC files")

    def log_probs(self, bundle: Bundle) -> list[np.ndarray]:
        fn = bundle_logits_fn(bundle)
        out = []
        for ids in self.pieces:
            z = fn(ids)[:, :ids.shape[1]].astype(np.float64)      # [N-1, 16, 128]
            z -= z.max(axis=-1, keepdims=True)
            out.append(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)))
        return out

    def compare(self, reference: list[np.ndarray], other: list[np.ndarray]) -> Measured:
        nats_ref = nats = kl = 0.0
        chars = 0
        for ids, ref, lp in zip(self.pieces, reference, other):
            targets = ids[1:]
            scored = targets != PAD_ID
            pick = lambda a: np.take_along_axis(a, targets[..., None], axis=-1)[..., 0]  # noqa: E731
            nats_ref -= float((pick(ref) * scored).sum())
            nats -= float((pick(lp) * scored).sum())
            kl += float(((np.exp(ref) * (ref - lp)).sum(axis=-1) * scored).sum())
            chars += int(scored.sum())
        bits = 1 / (chars * math.log(2))
        return Measured(nats_ref * bits, nats * bits, kl * bits, chars)


def _quantize_graph(src: Path, out: Path, nodes: list[str]) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if not nodes:
        shutil.copyfile(src, out)
        return
    # the quantiser first rewrites each Gemm as MatMul + Add, naming the MatMul `<gemm>_MatMul`
    names = nodes + [n + "_MatMul" for n in nodes]
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)   # it warns about pre-processing we do not need (no calibration of activations)
    try:
        quantize_dynamic(src, out, op_types_to_quantize=["MatMul", "Gemm"], nodes_to_quantize=names,
                         weight_type=QuantType.QInt8, per_channel=False, reduce_range=False)
    finally:
        logger.setLevel(level)


def quantize_bundle(src: str | Path, out_dir: str | Path, calibration: list[str] | None = None,
                    budget: float = DEFAULT_BUDGET, kl_budget: float = DEFAULT_KL_BUDGET,
                    say: Callable[[str], None] = lambda line: None) -> dict:
    """Write an int8 copy of the fp32 bundle `src` into `out_dir`; returns its config.

    `calibration`: ABC texts the error is measured on (default: a few music21 corpus pieces).
    Raises QuantizeError when `src` is not fp32 or no choice of groups meets the budget."""
    import onnxruntime as ort

    src, out_dir = Path(src), Path(out_dir)
    config = read_config(src, verify=True)
    if config["precision"] != "fp32":
        raise QuantizeError(f"{src} is {config['precision']}: quantise an fp32 bundle "
                            f"(`notabridge export CHECKPOINT OUT --int8` does both)")
    if any("data" in config["graphs"][g] for g in GRAPHS):
        raise QuantizeError(f"{src} keeps its weights in .data files (graphs over 2 GB): int8 quantisation "
                            "of such bundles is not supported yet; use the fp32 bundle")
    calib = _Calibration(calibration if calibration is not None else default_calibration(), config["patch_length"])
    groups = {g: block_weight_nodes(src / config["graphs"][g]["file"]) for g in GRAPHS}
    all_groups = [(g, kind) for g in GRAPHS for kind in groups[g]]
    if not all_groups:
        raise QuantizeError(f"{src}: no transformer block weights found in the graphs; is it a NotaBridge bundle?")

    reference_bundle = load_bundle(src, "cpu", verify=False)
    reference = calib.log_probs(reference_bundle)
    opts = session_options()
    work = Path(tempfile.mkdtemp(prefix="notabridge_quantize_"))
    made: dict[tuple, Path] = {}

    def graph_file(graph: str, kept: frozenset) -> Path:
        key = (graph, frozenset(k for g, k in kept if g == graph))
        if key not in made:
            path = work / f"{graph}_{len(made)}.onnx"
            nodes = [n for kind, names in groups[graph].items() if kind not in key[1] for n in names]
            _quantize_graph(src / config["graphs"][graph]["file"], path, nodes)
            made[key] = path
        return made[key]

    def measure(kept: frozenset) -> Measured:
        files = {g: graph_file(g, kept) for g in GRAPHS}
        sessions = {g: ort.InferenceSession(str(f), sess_options=opts, providers=["CPUExecutionProvider"])
                    for g, f in files.items()}
        trial = Bundle(path=src, config=config, prompts=[], patch_session=sessions["patch_decoder"],
                       char_session=sessions["char_decoder"], provider="CPUExecutionProvider")
        result = calib.compare(reference, calib.log_probs(trial))
        say(f"  fp32 kept: {_names(kept) or 'none'}: {result.delta:+.4f} bits/char, KL {result.kl_bits_per_char:.4f}")
        return result

    try:
        say(f"measuring int8 error on {calib.pieces.__len__()} calibration pieces "
            f"(budget {budget} bits/char, KL {kl_budget})")
        kept: frozenset = frozenset()
        result = measure(kept)
        while not result.within(budget, kl_budget):
            left = [g for g in all_groups if g not in kept]
            if len(left) <= 1:
                raise QuantizeError(f"int8 does not hold this model's quality: even with only "
                                    f"{_names(frozenset(left))} in int8 the error is {result.delta:+.4f} bits/char "
                                    f"(KL {result.kl_bits_per_char:.4f}); use the fp32 bundle")
            trials = {g: measure(kept | {g}) for g in left}
            best = min(trials, key=lambda g: (abs(trials[g].delta) / budget) + trials[g].kl_bits_per_char / kl_budget)
            kept, result = kept | {best}, trials[best]
        out_dir.mkdir(parents=True, exist_ok=True)
        graphs = {}
        for g in GRAPHS:
            name = config["graphs"][g]["file"]
            shutil.copyfile(graph_file(g, kept), out_dir / name)
            graphs[g] = {"file": name, "sha256": sha256_file(out_dir / name)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    int8 = [f"{g.split('_')[0]} {kind}" for g, kind in all_groups if (g, kind) not in kept]
    new = dict(config) | {
        "precision": "int8", "graphs": graphs,
        "quantization": {
            "method": "onnxruntime dynamic: int8 weights (one scale per matrix), uint8 activations per call",
            "int8": int8,
            "fp32": [_names(frozenset({k})) for k in sorted(kept)],   # weight groups the error kept in fp32
            "always_fp32": list(ALWAYS_FP32),
            "measured": result.as_dict(), "budget_bits_per_char": budget, "budget_kl": kl_budget,
            "from": {"name": config.get("name"), "sha256": {g: config["graphs"][g]["sha256"] for g in GRAPHS}},
        },
    }
    for extra in ["prompts.json", "part_names.json"] + ([config["draft"]["file"]] if config.get("draft") else []):
        if (src / extra).is_file():
            shutil.copyfile(src / extra, out_dir / extra)
    card = (src / "MODEL_CARD.md").read_text() if (src / "MODEL_CARD.md").is_file() else f"# {config.get('name')}\n"
    card = card.replace("| precision | fp32 |", "| precision | int8 (see below) |")
    (out_dir / "MODEL_CARD.md").write_text(card.rstrip("\n") + "\n\n" + int8_card_section(new["quantization"]))
    (out_dir / "config.json").write_text(json.dumps(new, indent=2) + "\n")
    return new


def _names(kept: frozenset) -> str:
    return ", ".join(f"{g.split('_')[0]} {kind}" for g, kind in sorted(kept))


def int8_card_section(q: dict) -> str:
    m = q["measured"]
    return f"""## int8 version

This bundle's block weights are int8 (`notabridge quantize`, ONNX Runtime dynamic quantisation).
int8: {', '.join(q['int8'])}. fp32: {', '.join(q['fp32'] + q['always_fp32'])}.
Measured against the fp32 graphs on {m['chars']:,} calibration characters: {m['bits_per_char_fp32']:.4f} ->
{m['bits_per_char']:.4f} bits/char ({m['delta_bits_per_char']:+.4f}), mean KL {m['kl_bits_per_char']:.4f} bits/char.
"""
