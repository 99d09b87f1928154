"""`notabridge panel`: the Qt control panel (needs the 'ui' extra: PyQt6, verovio)."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="where the daemon runs (default 127.0.0.1)")
    parser.add_argument("--osc-port", type=int, default=7879, metavar="N", help="the daemon's OSC UDP port (default 7879)")
    parser.add_argument("--screenshot", metavar="FILE.png", help="draw the window (offscreen works), save it as PNG and exit")
    parser.add_argument("--settings-file", metavar="FILE.ini",
                        help="remember window and settings in this file instead of the user's Qt settings")
    parser.add_argument("score", nargs="?", help="a MusicXML, MIDI or ABC file to open")


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.main import UserError

    try:
        import PyQt6.QtWidgets  # noqa: F401
        import verovio  # noqa: F401
    except ImportError as exc:
        raise UserError(f"the panel needs PyQt6 and verovio ({exc.name} is missing): pip install 'notabridge[ui]'") from exc
    from notabridge.ui.app import run_panel

    return run_panel(args.host, args.osc_port, screenshot=args.screenshot, settings_file=args.settings_file,
                     open_file=args.score)
