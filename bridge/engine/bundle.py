"""Load a model bundle (docs/bundle.md) for inference: check it, then open its two graphs once.

ONNX Runtime's CUDA provider is used when onnxruntime-gpu and a GPU are present (device
"auto" or "cuda"), the CPU provider otherwise; `Bundle.provider` says which one runs.
No torch here: bundles are plain ONNX + JSON.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from notabridge import models

FORMAT = "notabridge-bundle"
# 1 stacked the caches over layers; 2 gave each layer its own; 3: the patch graph's per-layer
# caches are fixed-capacity buffers updated in place, with a `past_length` input
FORMAT_VERSION = 3
# package data of notabridge.models, wherever the install put it
DEFAULT_BUNDLE = Path(models.__file__).resolve().parent / "default"
REQUIRED_KEYS = ("hidden_size", "patch_num_layers", "char_num_layers", "num_heads", "head_dim",
                 "patch_length", "patch_size", "vocab_size", "special_ids", "precision", "graphs")
# int8: block weights quantised (onnx_export/quantize.py); inputs, outputs and caches stay float32
PRECISIONS = ("fp32", "fp16", "int8")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


class BundleError(ValueError):
    """The bundle folder is missing, incomplete, corrupt or of another format (message says which)."""


@dataclass
class Bundle:
    path: Path
    config: dict
    prompts: list[list[str]]
    patch_session: object
    char_session: object
    provider: str
    dtype: type = np.float32
    card: str = ""
    info: dict = field(default_factory=dict)
    draft: object = None    # notabridge.engine.draft.DraftTable when the bundle ships one (speculative decoding)


def physical_cores() -> int:
    """Physical cores available to this process (hyper-threads only slow a memory-bound decoder)."""
    try:
        cores = set()
        phys = core = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                elif not line.strip() and core is not None:
                    cores.add((phys, core))
                    phys = core = None
        if core is not None:
            cores.add((phys, core))
        n = len(cores)
    except OSError:
        n = 0
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(n or available, available))


def cache_names(prefix: str, layers: int) -> list[str]:
    """A graph's per-layer cache names in graph order: `{prefix}_key_0`, `{prefix}_value_0`, `{prefix}_key_1`, ...
    (prefix `past` for inputs, `present` for outputs)."""
    return [f"{prefix}_{kind}_{i}" for i in range(layers) for kind in ("key", "value")]


def empty_cache(config: dict, level: str, batch: int, capacity: int = 0) -> tuple:
    """An empty per-layer cache of the `patch` or `char` graph, in graph order: length 0 for the
    char graph; for the patch graph, buffers of `capacity` positions (at least the patches to come)."""
    dtype = np.float16 if config["precision"] == "fp16" else np.float32
    z = np.zeros((batch, config["num_heads"], capacity, config["head_dim"]), dtype=dtype)
    return (z,) * (2 * config[f"{level}_num_layers"])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_config(path: str | Path, verify: bool = True) -> dict:
    """config.json of a bundle folder, checked for format, keys and (when `verify`) checksums."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"no model bundle at {path}: give the folder `notabridge export` wrote")
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise BundleError(f"{path} has no config.json: it is not a model bundle (see docs/bundle.md)")
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{cfg_path} is not valid JSON ({exc}): re-export the bundle") from None
    if config.get("format") != FORMAT:
        raise BundleError(f"{cfg_path} is not a {FORMAT} config (format={config.get('format')!r})")
    if config.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path} has bundle format version {config.get('format_version')}; this NotaBridge "
                          f"reads version {FORMAT_VERSION}: re-export it with this version's `notabridge export`")
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise BundleError(f"{cfg_path} lacks {', '.join(missing)}: re-export the bundle")
    if config["precision"] not in PRECISIONS:
        raise BundleError(f"{cfg_path}: unknown precision {config['precision']!r} ({', '.join(PRECISIONS)})")
    for graph in ("patch_decoder", "char_decoder"):
        entry = config["graphs"].get(graph)
        if not entry:
            raise BundleError(f"{cfg_path} names no {graph} graph: re-export the bundle")
        for item in (entry, entry.get("data")):
            if not item:
                continue
            file = path / item["file"]
            if not file.is_file():
                raise BundleError(f"{path} lacks {item['file']}: the bundle is incomplete, copy or export it again")
            if verify and sha256_file(file) != item.get("sha256"):
                raise BundleError(f"{file} does not match the sha256 in config.json: the file is corrupt or was "
                                  f"changed; copy or export the bundle again")
    draft = config.get("draft")
    if draft is not None:
        file = path / draft.get("file", "")
        if not draft.get("file") or not file.is_file():
            raise BundleError(f"{path} lacks {draft.get('file')!r}, the draft table config.json names: copy or export "
                              f"the bundle again")
        if verify and sha256_file(file) != draft.get("sha256"):
            raise BundleError(f"{file} does not match the sha256 in config.json: the file is corrupt or was changed; "
                              f"copy or export the bundle again")
    return config


def choose_providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device not in ("auto", "cpu", "cuda"):
        raise BundleError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device == "cuda" and CUDA not in available:
        raise BundleError("device cuda asked for, but this onnxruntime has no CUDA provider: "
                          "install onnxruntime-gpu (pip install notabridge[gpu]) or use device auto/cpu")
    if device in ("auto", "cuda") and CUDA in available:
        return [CUDA, CPU]
    return [CPU]


def session_options(threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or physical_cores()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    # idle threads sleep instead of spinning: on a machine shared with a DAW, MuseScore or other
    # jobs, spinning threads fight the busy ones (measured here: char step 28 ms spinning, 13 ms not)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def load_bundle(path: str | Path | None = None, device: str = "auto", verify: bool = True,
                threads: int | None = None) -> Bundle:
    """Check the bundle at `path` (None: the embedded default, models/default) and open its graphs."""
    import onnxruntime as ort

    if path is None:
        path = DEFAULT_BUNDLE
        if not (path / "config.json").is_file():
            raise BundleError(f"no embedded default model yet ({path} is empty): give a bundle with --model, "
                              f"or make one with `notabridge export CHECKPOINT.pth BUNDLE_DIR`")
    path = Path(path)
    config = read_config(path, verify)
    providers = choose_providers(device)
    opts = session_options(threads)
    sessions = []
    for graph in ("patch_decoder", "char_decoder"):
        file = path / config["graphs"][graph]["file"]
        try:
            sessions.append(ort.InferenceSession(str(file), sess_options=opts, providers=providers))
        except Exception as exc:  # ORT raises its own exception types; report them in one line
            raise BundleError(f"ONNX Runtime cannot open {file}: {str(exc).splitlines()[0]}") from None
    provider = sessions[0].get_providers()[0]
    prompts_file = path / "prompts.json"
    prompts = json.loads(prompts_file.read_text()) if prompts_file.is_file() else []
    card_file = path / "MODEL_CARD.md"
    card = card_file.read_text() if card_file.is_file() else ""
    names_file = path / "part_names.json"   # optional: the part names of the model's training headers
    part_names = json.loads(names_file.read_text()) if names_file.is_file() else []
    info = dict(config) | {"name": config.get("name") or path.name, "prompts": prompts, "path": str(path),
                           "part_names": part_names}
    draft = None
    if config.get("draft"):
        from notabridge.engine.draft import DraftTable

        try:
            draft = DraftTable.load(path / config["draft"]["file"])
        except (OSError, ValueError, KeyError) as exc:
            raise BundleError(f"cannot read the draft table {config['draft']['file']} of {path} ({exc}): "
                              f"copy or export the bundle again") from None
    return Bundle(path=path, config=config, prompts=prompts, patch_session=sessions[0], char_session=sessions[1],
                  provider=provider, dtype=np.float16 if config["precision"] == "fp16" else np.float32,
                  card=card, info=info, draft=draft)
