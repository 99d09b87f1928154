"""`notabridge export CHECKPOINT OUT_DIR`: a NotaGen .pth -> model bundle (docs/bundle.md)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from notabridge.cli.main import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("Needs torch: pip install 'notabridge[export]'. The model's sizes are read off the checkpoint;\n"
                     "any released NotaGen size (small, medium, large, NotaGen-X) works without options.")
    parser.add_argument("checkpoint", help="NotaGen .pth checkpoint (a dict with the weights under 'model')")
    parser.add_argument("out_dir", help="folder to write the bundle into")
    parser.add_argument("--fp16", action="store_true",
                        help="write half-precision graphs (meant for GPUs; about half the size)")
    parser.add_argument("--prompts", metavar="FILE",
                        help="the style prompts the model knows, for prompts.json: NotaGen's prompts.txt "
                             "(one Period_Composer_Instrumentation per line, '#' comments allowed) or a JSON "
                             "list of [period, composer, instrumentation] lists or of "
                             "{period, composer, instrumentation} objects")
    parser.add_argument("--name", help="model name recorded in config.json (default: the folder's name)")
    parser.add_argument("--force", action="store_true", help="write into OUT_DIR even if it is not empty")


def run(args: argparse.Namespace) -> int:
    from notabridge.onnx_export.prompts import PromptsError, read_prompts

    out_dir = Path(args.out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not args.force:
        raise UserError(f"{out_dir} exists and is not an empty folder: choose another or add --force")
    try:
        prompts = read_prompts(args.prompts) if args.prompts else []
    except PromptsError as exc:
        raise UserError(str(exc)) from None
    try:
        from notabridge.onnx_export.checkpoint import CheckpointError
        from notabridge.onnx_export.export import export_bundle
    except ImportError as exc:
        raise UserError(f"export needs torch and onnx ({exc.name} is missing): pip install 'notabridge[export]'") from None
    started = time.perf_counter()
    try:
        config = export_bundle(args.checkpoint, out_dir, fp16=args.fp16, prompts=prompts, name=args.name)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    seconds = time.perf_counter() - started
    files = [g["file"] for g in config["graphs"].values()] + [g["data"]["file"] for g in config["graphs"].values() if "data" in g]
    size = sum((out_dir / f).stat().st_size for f in files)
    print(f"wrote {out_dir}: {config['precision']}, {config['parameters']:,} parameters, "
          f"{size / 2**20:.1f} MiB of graphs, {len(prompts)} prompts, in {seconds:.1f} s")
    return 0
