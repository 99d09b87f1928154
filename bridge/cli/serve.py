"""`notabridge serve`: run the daemon (HTTP JSON, OSC over UDP and TCP, optional MIDI) on one model."""
from __future__ import annotations

import argparse
import signal
import threading

from notabridge.cli.main import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle folder (default: the embedded model in models/default)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="execution provider (default: GPU when there is one)")
    parser.add_argument("--http-port", type=_port, default=7878, metavar="N",
                        help="HTTP JSON port, where the MuseScore plugin asks (default 7878, the plugin's default "
                             "address; another port: type http://127.0.0.1:N in the plugin's Daemon field; 0 = off)")
    parser.add_argument("--osc-port", type=_port, default=7879, metavar="N", help="OSC over UDP port (default 7879; 0 = off)")
    parser.add_argument("--osc-tcp-port", type=_port, default=7880, metavar="N", help="OSC over TCP port (default 7880; 0 = off)")
    parser.add_argument("--midi-in", metavar="NAME", help="MIDI input port to record from (between MIDI start and stop)")
    parser.add_argument("--midi-out", metavar="NAME", help="MIDI output port to play accompaniments to")
    parser.add_argument("--midi-save", metavar="FOLDER",
                        help="also write each accompaniment (and each live take) in this folder; live takes "
                             "otherwise go to a new temporary folder, printed at start")
    parser.add_argument("--midi-voices", type=int, default=3, choices=range(1, 9), metavar="N",
                        help="accompaniment voices to write under a recorded melody (1-8, default 3)")
    parser.add_argument("--midi-meter", default="4/4", metavar="N/D",
                        help="time signature of what the DAW plays (live MIDI carries none; default 4/4)")
    parser.add_argument("--midi-live", choices=["forward", "echo"], metavar="MODE",
                        help="answer bar by bar while the DAW plays (needs --midi-in and --midi-out; docs/daw.md): "
                             "forward = each bar's accompaniment sounds with that bar, echo = one bar late")
    parser.add_argument("--midi-key", default="auto", metavar="KEY",
                        help='key of what the DAW plays in live mode, e.g. "G" or "F#m" (default auto: estimated '
                             "from the first bar)")
    parser.add_argument("--midi-lookahead", type=_lookahead, default="auto", metavar="N",
                        help="live mode: sixteenths before a bar's end at which the bar is read and the next one "
                             "written (default auto: as few as the engine's recent speed allows)")
    parser.add_argument("--speculative", action=argparse.BooleanOptionalAction, default=None,
                        help="draft characters with the bundle's n-gram table and verify them in one char-decoder "
                             "call: the same distribution of music, fewer char-decoder calls (default: the "
                             "engine's, on; docs/engine_speed.md)")
    parser.add_argument("--listen", metavar="ADDRESS", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--socket-activation", action="store_true",
                        help="take the HTTP door's listening socket from systemd instead of binding --http-port "
                             "(what `notabridge autostart install` sets up: the first request starts the daemon)")
    parser.add_argument("--idle-exit", metavar="MINUTES", type=_minutes, default=0,
                        help="stop after MINUTES without requests or jobs (0, the default: never); with "
                             "--socket-activation the next request starts the daemon again")
    parser.add_argument("--log-file", metavar="FILE",
                        help="also write the log to FILE (rotated at 5 MB, 3 old files kept); lines are rate-limited")


def _lookahead(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of sixteenths or auto") from None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of minutes") from None
    if not 0 <= value <= 7 * 24 * 60:   # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} minutes: give 0 (never) up to a week (10080)")
    return value


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.load_engine import load_engine
    from notabridge.daemon.app import Daemon, ServeOptions, _is_loopback

    from notabridge.daemon.midi_ports import parse_meter

    try:
        parse_meter(args.midi_meter)
    except ValueError as exc:
        raise UserError(f"--midi-meter: {exc}") from None
    from notabridge.daemon.live import check_option
    from notabridge.errors import JobError

    for flag, name, value in (("--midi-key", "key", args.midi_key), ("--midi-lookahead", "lookahead", args.midi_lookahead)):
        try:
            check_option(name, value, args.midi_meter)
        except JobError as exc:
            raise UserError(f"{flag}: {exc}") from None
    if args.midi_live and not (args.midi_in and args.midi_out):
        raise UserError("--midi-live needs both --midi-in (the melody) and --midi-out (the accompaniment)")
    from notabridge.daemon import logs

    try:
        logs.configure(args.log_file)
    except OSError as exc:
        raise UserError(f"--log-file {args.log_file}: cannot write there ({exc.strerror or exc})") from None
    http_socket = None
    if args.socket_activation:   # before loading the model: a wrong start fails at once
        from notabridge.daemon.socket_activation import ActivationError, systemd_socket

        try:
            http_socket = systemd_socket()
        except ActivationError as exc:
            raise UserError(str(exc)) from None
    engine = load_engine(args.model, args.device, speculative=args.speculative)
    if not _is_loopback(args.listen):
        print(f"WARNING: listening on {args.listen}: other machines on that network can use this daemon "
              "and read the music sent to it. Use the default 127.0.0.1 unless you mean it.", flush=True)
    options = ServeOptions(listen=args.listen, http_port=args.http_port or None, http_socket=http_socket, osc_port=args.osc_port or None,
                           osc_tcp_port=args.osc_tcp_port or None, midi_in=args.midi_in, midi_out=args.midi_out,
                           midi_save_dir=args.midi_save, midi_voices=args.midi_voices,
                           midi_meter=args.midi_meter, midi_live=args.midi_live, midi_key=args.midi_key,
                           midi_lookahead=args.midi_lookahead)
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
    for line in plugin_lines(daemon.endpoints().get("http")):
        print(line, flush=True)
    print("ready; Ctrl-C stops", flush=True)
    while not stop.wait(0.5):
        if args.idle_exit and daemon.idle_seconds() >= args.idle_exit * 60:
            print(f"idle for {args.idle_exit:g} minutes: stopping"
                  + (" (the next request starts the daemon again)" if http_socket is not None else ""), flush=True)
            break
    print("stopping...", flush=True)
    for job in daemon.stop():
        print(f"cancelled job {job.id} ({job.source}, {job.request.mode})", flush=True)
    print("stopped", flush=True)
    return 0


def plugin_lines(http_url: str | None) -> list[str]:
    """Where the installed MuseScore plugins will look for this daemon, and what to do if that is not here."""
    from notabridge.cli.install_plugin import DEFAULT_DAEMON, daemon_url, installed_plugins, plugin_daemon

    here = daemon_url(http_url) if http_url else None
    if here is not None:     # listening on every address: this machine's plugin reaches it on loopback
        here = here.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
    if here is None:
        return ["MuseScore plugin: the HTTP door is off (--http-port 0), so the plugin cannot reach this daemon"]
    found = installed_plugins()
    if not found:
        return [f"MuseScore plugin: not installed in MuseScore's default folders (`notabridge install-musescore-plugin`); "
                f"it asks {DEFAULT_DAEMON} unless its Daemon field says otherwise"
                + ("" if here == DEFAULT_DAEMON else f": type {here} there")]
    lines = []
    for version, folder in found:
        asks = plugin_daemon(folder)
        if asks == here or asks == here.replace("://127.0.0.1:", "://localhost:"):
            lines.append(f"MuseScore {version} plugin ({folder}): asks {asks}, this daemon")
        else:
            lines.append(f"MuseScore {version} plugin ({folder}): asks {asks}, NOT this daemon: type {here} in its "
                         f"Daemon field, or run `notabridge install-musescore-plugin --daemon {here}`")
    return lines
