"""`notabridge` command line: one subcommand per module in bridge/cli/.

Each command module defines `add_arguments(parser)` and `run(args) -> int`. Modules are
imported only when their command runs, so `notabridge serve` never pulls in torch and
`--help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module under notabridge.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "export": ("export", "write an ONNX model bundle from a NotaGen .pth checkpoint (needs the 'export' extra)"),
    "quantize": ("quantize", "an int8 copy of an fp32 bundle, about twice as fast on CPUs (weights chosen by measured error)"),
    "inspect": ("inspect", "show sizes, parameters, precision, context and prompts of a bundle or checkpoint"),
    "serve": ("serve", "run the daemon: HTTP JSON, OSC (UDP and TCP) and MIDI front doors over one job queue"),
    "panel": ("panel", "the Qt control panel: live sampling settings, style prompt, jobs on files, variants, history"),
    "autostart": ("autostart", "install|remove|status: start the daemon without a terminal (Linux: on the plugin's first request; macOS, Windows: at login)"),
    "install-musescore-plugin": ("install_plugin", "copy the MuseScore 3/4 plugin into MuseScore's plugin folder and say how to enable it"),
    "accompany": ("accompany", "accompaniment voices for a melody .mid (a DAW clip) on new tracks; or, for a score (.musicxml), new music on --staves around the others, written into a copy of your file"),
    "convert": ("convert", "convert scores between MusicXML/.mxl, MIDI, NotaGen interleaved ABC and excerpt JSON (by extension), optionally a measure range"),
    "generate": ("generate", "a new piece from a style prompt: --prompt \"PERIOD|COMPOSER|INSTRUMENTATION\" --bars N -o out.musicxml"),
    "continue": ("continue_", "new bars after a measure range of a score: score.musicxml --measures A-B --bars N -o out.musicxml"),
    "infill": ("infill", "rewrite a measure range of a score (all staves or --staves), written into a copy of your file: score.musicxml --measures A-B -o out.musicxml"),
    "score": ("score", "log-likelihood of an interleaved ABC piece under a model (bundle or checkpoint)"),
    "finetune": ("finetune", "fine-tune the model on a folder of your scores under a new style prompt and export it (needs the 'train' extra)"),
    "suggest-prompt": ("suggest_prompt", "the model's style prompts that fit a measure range best: score.musicxml --measures A-B"),
}


class UserError(Exception):
    """A failure the user can fix; printed as one line, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notabridge", description="NotaBridge: a NotaGen co-writer for MuseScore and DAWs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        _load(module).add_arguments(p)
    return parser


def _load(module: str):
    return importlib.import_module(f"notabridge.cli.{module}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return int(_load(args._module).run(args) or 0)
    except UserError as exc:
        print(f"notabridge {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # run the imported module's main: under `python -m` this file is `__main__`, and the commands'
    # `notabridge.cli.main.UserError` would not be this copy's UserError (tracebacks instead of one line)
    from notabridge.cli.main import main as _main

    sys.exit(_main())
