"""`notabridge generate --prompt "PERIOD|COMPOSER|INSTRUMENTATION" --bars N -o out.musicxml`: a new piece."""
from __future__ import annotations

import argparse
from pathlib import Path

from notabridge.cli.main import UserError

OUTPUT_TYPES = (".musicxml", ".xml", ".mxl", ".mid", ".midi", ".abc", ".json")


def add_sampling_arguments(parser: argparse.ArgumentParser, bars: bool = True) -> None:
    """Options shared by the one-shot generation commands (generate, continue, infill); bars=False
    for those that rewrite a given range (no --bars)."""
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file; its extension picks the format: " + ", ".join(OUTPUT_TYPES))
    if bars:
        parser.add_argument("--bars", type=int, default=8, metavar="N", help="how many new bars (default 8)")
    parser.add_argument("--temperature", type=float, default=1.2, help="sampling temperature, 0.05-5 (default 1.2; low = nearly greedy)")
    parser.add_argument("--top-k", type=int, default=9, help="keep the k likeliest characters (default 9; 0 = no limit)")
    parser.add_argument("--top-p", type=float, default=0.9, help="keep the likeliest characters up to this mass (default 0.9)")
    parser.add_argument("--order", choices=("notagen", "standard"), default="notagen",
                        help="notagen: top-k, top-p, then temperature (NotaGen's); standard: temperature first")
    parser.add_argument("--seed", type=int, help="random seed: the same seed and settings give the same music")
    parser.add_argument("--variants", type=int, default=1, metavar="N",
                        help="how many different versions (decoded as one batch); OUT gets -1, -2, ... before its extension")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle folder (default: the embedded model, models/default)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="execution provider (default auto)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_range_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-range-rule", action="store_true",
                        help="let parts go outside their range (by default a part keeps to its instrument's range, "
                             "else to its given bars' range widened by a fifth)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", metavar="PERIOD|COMPOSER|INSTRUMENTATION",
                        help='style prompt, e.g. "Baroque|Bach, Johann Sebastian|Choral" (see `notabridge inspect BUNDLE`)')
    parser.add_argument("--time", metavar="M", help="time signature to use, e.g. 3/4 (default: the model's choice)")
    parser.add_argument("--key", type=int, metavar="FIFTHS", help="key signature in fifths, -7..7 (default: the model's choice)")
    add_sampling_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from notabridge.cli.accompany import parse_prompt
    from notabridge.jobs.compose import ComposeJob

    prompt = parse_prompt(args.prompt)
    check_output(args.output)
    job = ComposeJob(mode="generate", excerpt=None, bars=args.bars, prompt=prompt, sampling=sampling_from(args),
                     variants=args.variants, time=args.time, key=args.key)
    result = run_job(job, args)
    write_variants(result, args.output, prompt)
    return 0


def check_output(output: str) -> None:
    from notabridge.cli.output_path import check_output_path

    if Path(output).suffix.lower() not in OUTPUT_TYPES:
        raise UserError(f"-o {output}: name the output with one of {', '.join(OUTPUT_TYPES)} (the extension picks the format)")
    check_output_path(output)


def sampling_from(args: argparse.Namespace):
    from notabridge.engine.sampling import Sampling

    # commands without some of these options (accompany has only --seed and --temperature) get the defaults
    chosen = {name: getattr(args, name, None) for name in ("temperature", "top_k", "top_p", "seed", "order")}
    return Sampling(**{name: value for name, value in chosen.items() if value is not None})


def run_job(job, args: argparse.Namespace):
    """Load the model, run the job with a progress bar, turn job errors into user errors."""
    from tqdm import tqdm

    from notabridge.cli.load_engine import load_engine
    from notabridge.jobs.compose import compose
    from notabridge.errors import JobError

    engine = load_engine(args.model, args.device)
    bar = None if args.quiet else tqdm(total=None, unit="bar", desc=job.mode, leave=False)

    def progress(p) -> None:
        if bar is not None:
            bar.total = p.bars_total
            bar.n = p.bars_done
            bar.refresh()

    try:
        result = compose(job, engine, progress=progress)
    except JobError as exc:
        raise UserError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    for warning in result.warnings:
        print(f"warning: {warning}")
    shares = ", ".join(f"{v['valid_first_try']:.0%}" for v in result.variants)
    print(f"{job.mode}: {len(result.variants)} variant(s) in {result.seconds:.1f} s on {result.provider}; "
          f"bars valid on the first try: {shares}")
    return result


def variant_paths(output: str, n: int) -> list[Path]:
    path = Path(output)
    if n == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i + 1}{path.suffix}") for i in range(n)]


def write_variants(result, output: str, prompt=None, score: dict | None = None, splice_at: int | None = None,
                   splice_mode: str = "continue") -> None:
    """Write each variant, spliced into `score` when given: after measure index `splice_at`
    (continue), or over the measures with its indices (splice_mode "infill")."""
    from notabridge.notation import NotationError, splice_measures, write_excerpt

    for path, variant in zip(variant_paths(output, len(result.variants)), result.variants):
        excerpt = variant["excerpt"]
        if score is not None:
            excerpt = splice_measures(score, excerpt, mode=splice_mode, at=splice_at)
            excerpt.pop("selection", None)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix.lower() == ".abc" and score is None:
                path.write_text(variant["abc"])
            else:
                write_excerpt(excerpt, path, prompt=prompt)
        except NotationError as exc:
            raise UserError(f"cannot write {path}: {exc}") from None
        except OSError as exc:
            from notabridge.cli.output_path import write_error
            raise write_error(path, exc) from None
        print(f"wrote {path}")
