"""`notabridge inspect PATH`: what a model bundle or a NotaGen checkpoint holds."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from notabridge.cli.main import UserError
from notabridge.cli.torch_side import require_torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a bundle folder (checksums are verified) or a NotaGen .pth checkpoint "
                                     "(needs torch; loaded safely, no code in the file runs)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_dir():
        info = bundle_info(path)
    elif path.is_file():
        info = checkpoint_info(path)
    else:
        raise UserError(f"{path}: no such file or folder")
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def bundle_info(path: Path) -> dict:
    from notabridge.engine.bundle import BundleError, read_config

    try:
        config = read_config(path, verify=True)
    except BundleError as exc:
        raise UserError(str(exc)) from None
    files = [g["file"] for g in config["graphs"].values()] + [g["data"]["file"] for g in config["graphs"].values() if "data" in g]
    files += [config["draft"]["file"]] if config.get("draft") else []
    prompts_file = path / "prompts.json"
    prompts = json.loads(prompts_file.read_text()) if prompts_file.is_file() else []
    return {
        "kind": "bundle", "path": str(path), "name": config.get("name", path.name),
        **_shape(config), "parameters": config.get("parameters"), "precision": config["precision"],
        "opset": config.get("opset"), "bytes": sum((path / f).stat().st_size for f in files),
        "files": {f: (path / f).stat().st_size for f in files}, "checksums": "verified",
        "source": config.get("source"), "prompts": prompts, "quantization": config.get("quantization"),
        "draft": config.get("draft"),
    }


def checkpoint_info(path: Path) -> dict:
    require_torch("reading a .pth checkpoint", "inspect an exported bundle instead")
    from notabridge.onnx_export.checkpoint import CheckpointError, check_state_dict, infer_sizes, read_state_dict
    from notabridge.onnx_export.model import count_parameters

    try:
        state = read_state_dict(path)
        sizes = infer_sizes(state)
        check_state_dict(state, sizes)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in state.values()})
    return {
        "kind": "checkpoint", "path": str(path), "name": path.stem, **_shape(sizes.as_dict()),
        "parameters": count_parameters(state), "precision": "/".join(dtypes), "bytes": path.stat().st_size,
        "prompts": None,
    }


def _shape(config: dict) -> dict:
    keys = ("hidden_size", "num_heads", "patch_num_layers", "char_num_layers", "patch_length", "patch_size")
    return {k: config[k] for k in keys}


def _quantization(q: dict | None) -> str:
    if not q:
        return ""
    m = q.get("measured", {})
    fp32 = ", ".join(q.get("fp32", []) + q.get("always_fp32", []))
    return (f" ({len(q.get('int8', []))} weight groups int8; fp32: {fp32}; "
            f"{m.get('delta_bits_per_char', float('nan')):+.4f} bits/char against fp32 on "
            f"{m.get('chars', 0):,} calibration characters)")


def format_info(info: dict) -> str:
    lines = [
        f"{info['kind']}: {info['path']}",
        f"  name          {info['name']}",
        f"  shape         d={info['hidden_size']} ({info['num_heads']} heads), {info['patch_num_layers']} patch layers, "
        f"{info['char_num_layers']} char layers",
        f"  context       {info['patch_length']} patches of {info['patch_size']} characters "
        f"({info['patch_length'] * info['patch_size']:,} characters)",
        f"  parameters    {info['parameters']:,} ({info['parameters'] / 1e6:.1f} M)",
        f"  precision     {info['precision']}{_quantization(info.get('quantization'))}",
        f"  size          {info['bytes'] / 2**20:.1f} MiB",
    ]
    if info["kind"] == "bundle":
        lines += [f"    {name}  {size / 2**20:.1f} MiB" for name, size in info["files"].items()]
        lines.append(f"  checksums     {info['checksums']}")
        draft = info.get("draft")
        lines.append(f"  draft table   {draft['order']}-gram, {draft.get('contexts', 0):,} contexts, from "
                     f"{draft.get('source', 'unknown text')} (speculative decoding)" if draft else
                     "  draft table   none (one character per char-decoder call)")
        if info.get("source"):
            lines.append(f"  exported from {info['source'].get('checkpoint')} (sha256 {str(info['source'].get('sha256'))[:16]}...)")
    if info["prompts"] is None:
        lines.append("  prompts       not recorded in checkpoints (give them to `notabridge export --prompts FILE`)")
    else:
        lines.append(f"  prompts       {len(info['prompts'])}" + ("" if info["prompts"] else " (none recorded)"))
        lines += [f"    {' / '.join(p)}" for p in info["prompts"]]
    return "\n".join(lines)
