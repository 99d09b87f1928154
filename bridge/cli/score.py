"""`notabridge score PATH piece.abc`: log-likelihood of a piece under a bundle or a checkpoint."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from notabridge.cli.main import UserError
from notabridge.cli.torch_side import require_torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "The piece is patched exactly as NotaGen's training does (bos patch, header lines, body lines with\n"
        "[r:i/j] prefixes, eos patch); every character of every patch after the bos patch is scored (pads\n"
        "are not). A piece longer than the model's context (patch_length patches) is scored in windows:\n"
        "the bos patch plus context-1 patches, moving by half a context, each character scored once.\n"
        "A bundle runs in ONNX Runtime; a .pth checkpoint runs in PyTorch (needs torch); both give the\n"
        "same numbers to about 1e-4.")
    parser.add_argument("path", help="a bundle folder or a NotaGen .pth checkpoint")
    parser.add_argument("piece", help="interleaved ABC file (NotaGen's format; `[r:i/j]` prefixes are added if absent)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu",
                        help="ONNX Runtime device for a bundle (default cpu: the same numbers everywhere)")


def run(args: argparse.Namespace) -> int:
    from notabridge.abc import patching
    from notabridge.engine import scoring

    piece = Path(args.piece)
    try:
        text = piece.read_text(encoding="ascii")
    except FileNotFoundError:
        raise UserError(f"{piece}: no such file") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{piece}: byte {exc.start} is not ASCII; NotaGen reads 7-bit ABC only") from None
    if not text.strip():
        raise UserError(f"{piece} is empty: give an interleaved ABC piece")
    try:
        ids = patching.encode(text)
    except ValueError as exc:
        raise UserError(f"{piece}: {exc}") from None
    model, context, label = _open_model(Path(args.path), args.device)
    result = scoring.score_ids(model, ids, context)
    if args.json:
        print(json.dumps({"model": label, "piece": str(piece)} | result.as_dict()))
    else:
        print(f"{piece} under {label}: {result.nats:.4f} nats over {result.chars} characters, "
              f"{result.bits_per_char:.4f} bits/char ({result.patches} patches, {result.windows} window"
              f"{'s' if result.windows != 1 else ''})")
    return 0


def _open_model(path: Path, device: str):
    """(bundle or logits function, context, label) for a bundle folder or a checkpoint file."""
    if path.is_dir():
        from notabridge.engine.bundle import BundleError, load_bundle

        try:
            bundle = load_bundle(path, device=device)
        except BundleError as exc:
            raise UserError(str(exc)) from None
        return bundle, bundle.config["patch_length"], f"bundle {path} ({bundle.provider})"
    if not path.is_file():
        raise UserError(f"{path}: no such file or folder")
    require_torch("scoring with a .pth checkpoint", "score with an exported bundle")
    from notabridge.onnx_export.checkpoint import CheckpointError, load_model
    from notabridge.onnx_export.torch_scoring import model_logits_fn

    try:
        model = load_model(path)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    return model_logits_fn(model), model.sizes.patch_length, f"checkpoint {path} (PyTorch)"
