"""`notabridge finetune FOLDER --name "My style" -o models/mine`: a model of your own style."""
from __future__ import annotations

import argparse
from pathlib import Path

from notabridge.cli.main import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "Needs torch: pip install 'notabridge[train]'. The scores of FOLDER (MusicXML, .mxl, MIDI, ABC; sub-folders\n"
        "too) are taught to the model under the prompt PERIOD / NAME / INSTRUMENTATION, then a bundle is written to\n"
        "OUT with the base model's prompts plus the new one. Stopped (Ctrl-C) or out of time: run the same command\n"
        "again to go on from where it stopped (OUT/.finetune keeps the work). See docs/styles.md.")
    parser.add_argument("folder", help="folder of your scores")
    parser.add_argument("--name", required=True, help='the style\'s name, e.g. "My style" (the prompt\'s composer field)')
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="bundle folder to write, e.g. models/mine")
    parser.add_argument("--base", metavar="BUNDLE_OR_PTH", help="model to start from (default: the embedded model)")
    parser.add_argument("--period", default="Custom", help="the prompt's period field (default Custom)")
    parser.add_argument("--instrumentation", default="Custom", help="the prompt's instrumentation field (default Custom)")
    parser.add_argument("--minutes", type=float, default=15.0, help="training time (default 15; resumed runs add to it)")
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate (default 1e-4)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest on a shared CPU)")
    parser.add_argument("--no-rehearsal", action="store_true",
                        help="train on your pieces only (default: mix in pieces of the base's nearest styles, so that "
                             "the new style is told apart from them)")
    parser.add_argument("--rehearsal-corpus", metavar="FOLDER",
                        help="the base model's training.corpus folder (train.jsonl) to take those pieces from "
                             "(default: music21's corpus for the embedded model; none for another --base)")
    parser.add_argument("--no-margin", action="store_true",
                        help="leave out the margin loss that makes your pieces unlikelier under the competing prompts "
                             "(default: on whenever rehearsal found competing prompts)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.torch_side import require_torch

    require_torch("finetune", module="training.finetune", extra="train")
    from training.finetune import FinetuneError, finetune
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {out} is a file: give a folder for the new bundle")
    if args.minutes <= 0:
        raise UserError("--minutes must be more than 0")
    try:
        result = finetune(args.folder, args.name, out, base=args.base, period=args.period,
                          instrumentation=args.instrumentation, minutes=args.minutes, lr=args.lr,
                          threads=args.threads, quiet=args.quiet,
                          rehearsal=not args.no_rehearsal, rehearsal_corpus=args.rehearsal_corpus,
                          contrast=not args.no_margin)
    except FinetuneError as exc:
        raise UserError(str(exc)) from None
    change = (result.after_bits - result.before_bits) / result.before_bits if result.before_bits == result.before_bits else None
    print(f"wrote {result.out}: {result.pieces} pieces ({result.held_out} held out), {result.minutes:.1f} min of training; "
          f"held-out bits/char {result.before_bits:.3f} -> {result.after_bits:.3f}"
          + (f" ({change:+.0%})" if change is not None else ""))
    print(f'use it: notabridge serve --model {result.out}   (prompt "{args.period}|{args.name}|{args.instrumentation}")')
    return 0
