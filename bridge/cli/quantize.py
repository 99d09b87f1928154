"""`notabridge quantize BUNDLE OUT_DIR`: an int8 copy of an fp32 bundle, layers chosen by measured error."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from notabridge.cli.main import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("Needs onnx: pip install 'notabridge[export]'. The engine runs the int8 bundle like any other;\n"
                     "measured speed and quality: docs/engine_speed.md.")
    add_quantize_options(parser)
    parser.add_argument("bundle", help="an fp32 bundle folder (written by `notabridge export`)")
    parser.add_argument("out_dir", help="folder to write the int8 bundle into")
    parser.add_argument("--force", action="store_true", help="write into OUT_DIR even if it is not empty")


def add_quantize_options(parser: argparse.ArgumentParser) -> None:
    """Options shared with `notabridge export --int8`."""
    from notabridge.onnx_export.quantize import DEFAULT_BUDGET

    parser.add_argument("--calibration", nargs="+", metavar="FILE",
                        help="pieces the int8 error is measured on: interleaved ABC (.abc) or MusicXML (.musicxml, "
                             ".xml, .mxl); default: four music21 corpus pieces")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET, metavar="BITS",
                        help=f"largest change in bits per character allowed on them (default {DEFAULT_BUDGET})")


def calibration_texts(files: list[str] | None) -> list[str] | None:
    if not files:
        return None
    texts = []
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise UserError(f"--calibration {name}: no such file")
        if path.suffix.lower() == ".abc":
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
            continue
        from notabridge.notation import NotationError, to_abc
        try:
            texts.append(to_abc(str(path)))
        except (NotationError, OSError, ValueError) as exc:
            raise UserError(f"--calibration {name}: cannot read it as a score ({exc})") from None
    return texts


def quantize_into(bundle: Path, out_dir: Path, args: argparse.Namespace) -> dict:
    """Run the quantiser with the command's options; its errors become one-line user errors."""
    from notabridge.engine.bundle import BundleError
    from notabridge.onnx_export.quantize import QuantizeError, quantize_bundle

    try:
        return quantize_bundle(bundle, out_dir, calibration_texts(args.calibration), budget=args.budget,
                               say=lambda line: print(line, flush=True))
    except (QuantizeError, BundleError) as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not args.force:
        raise UserError(f"{out_dir} exists and is not an empty folder: choose another or add --force")
    if Path(args.out_dir).resolve() == Path(args.bundle).resolve():
        raise UserError("write the int8 bundle into another folder than the fp32 one")
    started = time.perf_counter()
    config = quantize_into(Path(args.bundle), out_dir, args)
    print(summary(out_dir, config, time.perf_counter() - started))
    return 0


def summary(out_dir: Path, config: dict, seconds: float) -> str:
    q = config["quantization"]
    m = q["measured"]
    size = sum((out_dir / g["file"]).stat().st_size for g in config["graphs"].values())
    kept = q["fp32"]
    return (f"wrote {out_dir}: int8, {size / 2**20:.1f} MiB of graphs, {len(q['int8'])} weight groups int8"
            f"{' (kept fp32: ' + ', '.join(kept) + ')' if kept else ''}; {m['delta_bits_per_char']:+.4f} bits/char "
            f"on {m['chars']:,} calibration characters, in {seconds:.1f} s")
