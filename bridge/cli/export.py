"""`notabridge export CHECKPOINT OUT_DIR`: a NotaGen .pth -> model bundle (docs/bundle.md)."""
from __future__ import annotations

import argparse
import tempfile
import sys
import time
from pathlib import Path

from notabridge.cli.main import UserError
from notabridge.cli.torch_side import require_torch
from notabridge.cli.quantize import add_quantize_options, quantize_into, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("Needs torch: pip install 'notabridge[export]'. The model's sizes are read off the checkpoint;\n"
                     "any released NotaGen size (small, medium, large, NotaGen-X) works without options.")
    parser.add_argument("checkpoint", help="NotaGen .pth checkpoint (a dict with the weights under 'model'); "
                                           "with --index-corpus and no OUT_DIR: the bundle folder to add the index to")
    parser.add_argument("out_dir", nargs="?", help="folder to write the bundle into")
    parser.add_argument("--fp16", action="store_true",
                        help="write half-precision graphs (meant for GPUs; about half the size)")
    parser.add_argument("--int8", action="store_true",
                        help="write int8 weights (about twice as fast on CPUs; blocks kept fp32 where the measured "
                             "error asks for it, see `notabridge quantize`)")
    add_quantize_options(parser)
    parser.add_argument("--prompts", metavar="FILE",
                        help="the style prompts the model knows, for prompts.json: NotaGen's prompts.txt "
                             "(one Period_Composer_Instrumentation per line, '#' comments allowed) or a JSON "
                             "list of [period, composer, instrumentation] lists or of "
                             "{period, composer, instrumentation} objects")
    parser.add_argument("--name", help="model name recorded in config.json (default: the folder's name)")
    parser.add_argument("--force", action="store_true", help="write into OUT_DIR even if it is not empty")
    parser.add_argument("--index-corpus", metavar="FOLDER",
                        help="also write the bundle's bar index (bar_index.npz: hashes of every bar of every voice, "
                             "not the music) from the model's training pieces, for the originality check of every "
                             "variant: a `python -m training.corpus` folder (its train.jsonl) or a folder of scores. "
                             "`notabridge export BUNDLE --index-corpus FOLDER` adds one to an existing bundle")


def write_index(corpus: str, bundle_dir: Path) -> None:
    """Build the bar index of `corpus` into `bundle_dir` (no torch needed)."""
    from tqdm import tqdm

    from notabridge.jobs.corpus_index import CorpusError, build_index
    from notabridge.jobs.originality import INDEX_FILE

    skipped: list[str] = []
    bar = tqdm(desc="bar index", unit="piece", leave=False, mininterval=5, disable=not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        index = build_index(corpus, skipped, progress)
    except CorpusError as exc:
        raise UserError(str(exc)) from None
    finally:
        bar.close()
    size = index.save(bundle_dir / INDEX_FILE)
    print(f"wrote {bundle_dir / INDEX_FILE}: {len(index.pieces)} pieces, {index.bars:,} bars counted, "
          f"{size / 1024:.0f} KiB" + (f"; {len(skipped)} unreadable, e.g. {skipped[0]}" if skipped else ""))


def run(args: argparse.Namespace) -> int:
    from notabridge.onnx_export.prompts import PromptsError, read_prompts

    if args.out_dir is None:
        if not args.index_corpus:
            raise UserError("give OUT_DIR, the folder to write the bundle into (or --index-corpus to index a bundle)")
        bundle = Path(args.checkpoint)
        if not (bundle / "config.json").is_file():
            raise UserError(f"{bundle} is not a bundle folder (no config.json): export a checkpoint first")
        write_index(args.index_corpus, bundle)
        return 0
    from notabridge.cli.output_path import check_output_path

    out_dir = check_output_path(args.out_dir, "out_dir", folder=True)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not args.force:
        raise UserError(f"{out_dir} exists and is not an empty folder: choose another or add --force")
    try:
        prompts = read_prompts(args.prompts) if args.prompts else []
    except PromptsError as exc:
        raise UserError(str(exc)) from None
    require_torch("export", module="notabridge.onnx_export.export", needs="torch and onnx")
    from notabridge.onnx_export.checkpoint import CheckpointError
    from notabridge.onnx_export.export import export_bundle
    if args.int8 and args.fp16:
        raise UserError("--int8 and --fp16 exclude each other: int8 is for CPUs, fp16 for GPUs")
    started = time.perf_counter()
    try:
        if args.int8:  # the fp32 export is only the quantiser's input
            with tempfile.TemporaryDirectory(prefix="notabridge_export_") as fp32:
                export_bundle(args.checkpoint, fp32, prompts=prompts, name=args.name or out_dir.resolve().name)
                config = quantize_into(Path(fp32), out_dir, args)
            print(summary(out_dir, config, time.perf_counter() - started))
            return 0
        config = export_bundle(args.checkpoint, out_dir, fp16=args.fp16, prompts=prompts, name=args.name)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    seconds = time.perf_counter() - started
    files = [g["file"] for g in config["graphs"].values()] + [g["data"]["file"] for g in config["graphs"].values() if "data" in g]
    size = sum((out_dir / f).stat().st_size for f in files)
    print(f"wrote {out_dir}: {config['precision']}, {config['parameters']:,} parameters, "
          f"{size / 2**20:.1f} MiB of graphs, {len(prompts)} prompts, in {seconds:.1f} s")
    if args.index_corpus:
        write_index(args.index_corpus, out_dir)
    return 0
