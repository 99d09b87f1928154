"""`notabridge serve`: run the daemon (HTTP JSON, OSC over UDP and TCP, optional MIDI) on one model."""
from __future__ import annotations

import argparse
import signal
import threading

from notabridge.cli.main import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle folder (default: the embedded model in models/default)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="execution provider (default: GPU when there is one)")
    parser.add_argument("--http-port", type=_port, default=7878, metavar="N", help="HTTP JSON port (default 7878; 0 = off)")
    parser.add_argument("--osc-port", type=_port, default=7879, metavar="N", help="OSC over UDP port (default 7879; 0 = off)")
    parser.add_argument("--osc-tcp-port", type=_port, default=7880, metavar="N", help="OSC over TCP port (default 7880; 0 = off)")
    parser.add_argument("--midi-in", metavar="NAME", help="MIDI input port to record from (between MIDI start and stop)")
    parser.add_argument("--midi-out", metavar="NAME", help="MIDI output port to play accompaniments to")
    parser.add_argument("--midi-save", metavar="FOLDER", help="also write each accompaniment as a .mid file in this folder")
    parser.add_argument("--midi-voices", type=int, default=3, choices=range(1, 9), metavar="N",
                        help="accompaniment voices to write under a recorded melody (1-8, default 3)")
    parser.add_argument("--midi-meter", default="4/4", metavar="N/D",
                        help="time signature of what the DAW plays (live MIDI carries none; default 4/4)")
    parser.add_argument("--listen", metavar="ADDRESS", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--log-file", metavar="FILE",
                        help="also write the log to FILE (rotated at 5 MB, 3 old files kept); lines are rate-limited")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.load_engine import load_engine
    from notabridge.daemon.app import Daemon, ServeOptions, _is_loopback

    from notabridge.daemon.midi_ports import parse_meter

    try:
        parse_meter(args.midi_meter)
    except ValueError as exc:
        raise UserError(f"--midi-meter: {exc}") from None
    from notabridge.daemon import logs

    try:
        logs.configure(args.log_file)
    except OSError as exc:
        raise UserError(f"--log-file {args.log_file}: cannot write there ({exc.strerror or exc})") from None
    engine = load_engine(args.model, args.device)
    if not _is_loopback(args.listen):
        print(f"WARNING: listening on {args.listen}: other machines on that network can use this daemon "
              "and read the music sent to it. Use the default 127.0.0.1 unless you mean it.", flush=True)
    options = ServeOptions(listen=args.listen, http_port=args.http_port or None, osc_port=args.osc_port or None,
                           osc_tcp_port=args.osc_tcp_port or None, midi_in=args.midi_in, midi_out=args.midi_out,
                           midi_save_dir=args.midi_save, midi_voices=args.midi_voices,
                           midi_meter=args.midi_meter)
    daemon = Daemon(engine, options, say=lambda line: print(line, flush=True))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        daemon.start()
    except OSError as exc:
        raise UserError(str(exc)) from None
    for line in daemon.banner():
        print(line, flush=True)
    print("ready; Ctrl-C stops", flush=True)
    while not stop.wait(0.5):
        pass
    print("stopping...", flush=True)
    for job in daemon.stop():
        print(f"cancelled job {job.id} ({job.source}, {job.request.mode})", flush=True)
    print("stopped", flush=True)
    return 0

