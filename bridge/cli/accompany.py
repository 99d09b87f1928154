"""`notabridge accompany melody.mid -o out.mid`: an accompaniment for a melody clip from a DAW.
`notabridge accompany score.musicxml --staves 1,2,3 [--measures A-B] -o out.musicxml`: new music on
some staves of a score around the others.

For MIDI, the same accompany job the daemon runs for DAWs (notabridge.jobs.midi_melody), run in
this process: the melody is quantised and read in its key and meter, the engine writes the
accompaniment voices bar by bar around it; the output is the input file plus one new track per
voice, on the same bars, tempo and length. For a score, the staves named are written around the
given ones, and from MusicXML to MusicXML into a copy of the user's own file, where nothing else
changes (notabridge.cli.score_job).
"""
from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

from notabridge.cli.main import UserError
from notabridge.cli.generate import add_range_argument

DEFAULT_VOICES = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("melody", help="the melody as a Standard MIDI File (.mid), e.g. a clip exported from a DAW; "
                                       "or a score (.musicxml/.xml/.mxl, .abc, excerpt .json) with --staves")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="where to write melody + accompaniment (.mid for a MIDI melody; for a score, its extension picks the format)")
    parser.add_argument("--staves", metavar="I,J", help="score: the 0-based staves to write (the others are given)")
    parser.add_argument("--measures", metavar="A-B", help="score: printed measure numbers to accompany (default: the whole score)")
    parser.add_argument("--prompt", metavar="PERIOD|COMPOSER|INSTRUMENTATION",
                        help='style prompt, e.g. "Baroque|Bach, Johann Sebastian|Choral" (default: a choral prompt of the model)')
    parser.add_argument("--voices", type=int, default=DEFAULT_VOICES, metavar="N",
                        help=f"MIDI: accompaniment voices under the melody (default {DEFAULT_VOICES}: alto, tenor, bass)")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle folder (default: the embedded model)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="execution provider")
    parser.add_argument("--seed", type=int, help="random seed: the same seed gives the same accompaniment")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the engine's, 1.2)")
    add_range_argument(parser)
    parser.add_argument("--pickup", type=Fraction, metavar="QUARTERS",
                        help="the file starts on an upbeat this many quarter notes long (by default bars start "
                             "at the start of the file, as DAWs export clips)")


def parse_prompt(text: str | None) -> tuple[str, str, str] | None:
    """'Baroque|Bach, Johann Sebastian|Choral' -> the three prompt fields."""
    if text is None:
        return None
    fields = [part.strip() for part in text.split("|")]
    if len(fields) != 3 or not all(fields):
        raise UserError(f'--prompt needs three fields separated by "|": PERIOD|COMPOSER|INSTRUMENTATION, not {text!r}')
    return fields[0], fields[1], fields[2]


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.output_path import check_output_path, write_error
    from notabridge.notation import midi_clip
    from notabridge.notation.errors import NotationError

    if Path(args.melody).suffix.lower() not in (".mid", ".midi"):       # a score
        from notabridge.cli.score_job import run_on_score

        args.score, args.variants, args.quiet = args.melody, 1, False
        return run_on_score(args, "accompany", args.staves)
    if args.staves or args.measures:
        raise UserError("--staves and --measures are for a score; a MIDI melody is accompanied whole, by --voices new tracks")
    prompt = parse_prompt(args.prompt)
    output = Path(args.output)
    if output.suffix.lower() not in (".mid", ".midi"):
        raise UserError(f"-o {output}: the output is a MIDI file; name it with .mid")
    check_output_path(output)   # before the model runs, not after
    try:   # what can be told without the model, before it loads
        midi_clip.accompaniment_voice_names(args.voices)
        midi_clip.read_midi(args.melody)
        data = Path(args.melody).read_bytes()
    except NotationError as exc:
        raise UserError(f"{args.melody}: {exc}") from None
    except OSError as exc:
        raise UserError(f"{args.melody}: cannot read it ({exc.strerror or exc})") from None

    result = _compose(data, prompt, args)
    melody = result.melody
    key_note = " (estimated: the file has no key signature)" if melody["key_estimated"] else ""
    print(f"melody: {melody['bars']} bars of {melody['time']}, {melody['tempo_bpm']:g} bpm, key "
          f"{melody['key_fifths']:+d} fifths {melody['key_mode']}{key_note}{', pickup' if melody['pickup'] else ''}",
          flush=True)
    for warning in result.warnings:
        print(f"warning: {warning}", flush=True)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(result.variants[0]["midi"])   # the melody's file + one track per voice
    except OSError as exc:
        raise write_error(output, exc) from None
    print(f"wrote {output}: melody + {args.voices} accompaniment tracks, {melody['bars']} bars "
          f"({result.seconds:.1f} s on {result.provider})", flush=True)
    return 0


def _compose(melody: bytes, prompt: tuple[str, str, str] | None, args: argparse.Namespace):
    """The same MIDI accompany job the daemon runs for a DAW (notabridge.jobs.midi_melody), run here."""
    from notabridge.cli.load_engine import load_engine
    from notabridge.jobs.compose import ComposeJob, compose, default_prompt
    from notabridge.errors import JobError
    from notabridge.engine.sampling import Sampling

    engine = load_engine(args.model, args.device)
    if prompt is None:
        prompt = default_prompt(engine.info.get("prompts") or [])
        if prompt:
            print(f"prompt: {' | '.join(prompt)} (choose another with --prompt)", flush=True)
    sampling = Sampling(seed=args.seed)
    if args.temperature is not None:
        sampling.temperature = args.temperature
    job = ComposeJob(mode="accompany", excerpt=None, prompt=prompt, sampling=sampling, midi=melody,
                     voices=args.voices, pickup=args.pickup,
                     range_rule=not args.no_range_rule)
    try:
        result = compose(job, engine, progress=_print_progress)
    except JobError as exc:
        raise UserError(str(exc)) from None
    if not result.variants:
        raise UserError("the model returned no accompaniment; try again with another --seed")
    return result


def _print_progress(progress) -> None:
    print(f"  bar {progress.bars_done}/{progress.bars_total}", flush=True)
