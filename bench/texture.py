"""Does the embedded model write every voice, and does every job come back? (issue 13)

    nice -n 10 python bench/texture.py [--seeds 3] [--checkout DIR] [--json out.json]
    nice -n 10 python bench/texture.py --compare /work/main      # this checkout against another, same run

Pieces: real multi-voice scores the embedded model (models/default) did not train on: the pieces
of music21's corpus that training/corpus.py put in the validation split (quartets, chorales, a
madrigal, a mazurka). Each is converted by the notation layer; 8 of its bars are the user's
bars. Per piece and seed, with NotaGen's default sampling:
- continue: 4 new bars after them; infill: 2 new bars between them and the 4 real bars after
  (2 candidates ranked by the likelihood of those);
- generate: 8 bars from the four-part choral prompt (Baroque / Bach / Choral).
Printed, as a table: the share of new (voice, bar) cells holding notes for the voices that sound
in the user's bars; jobs failed and variants that stopped early; bars valid on the first try;
leaps of 10+ semitones into a bar's last note against leaps elsewhere (per note pair, each
voice's top line, the last given bar included); generate: bars with all four voices sounding;
and the time per patch of the continue jobs. `--compare DIR` runs the same in DIR's checkout
(e.g. the main branch) in a subprocess and prints both columns.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

# (kind, music21 corpus path): in training/corpus.py's validation split (is_validation, share 0.05)
PIECES = [("quartet", "haydn/opus74no1/movement4"), ("quartet", "haydn/opus1no1/movement4"),
          ("quartet", "mozart/k156/movement2"), ("chorale", "bach/bwv139.6"), ("chorale", "bach/bwv195.6"),
          ("madrigal", "monteverdi/madrigal.3.4"), ("keyboard", "chopin/mazurka06-2")]
CHORAL_PROMPT = ["%Baroque\n", "%Bach, Johann Sebastian\n", "%Choral\n"]
START, GIVEN, NEW, GAP, AFTER = 8, 8, 4, 2, 4


def piece_lines(name: str) -> tuple[list[str], list[str]]:
    from music21 import converter, corpus

    from notabridge.notation import to_abc
    from notabridge.abc.patching import split_piece

    found = corpus.getWork(name)
    paths = [Path(p) for p in (found if isinstance(found, list) else [found])]
    path = next((p for p in paths if p.suffix == ".mxl"), paths[0])
    score = converter.parse(path)
    piece = split_piece(to_abc(score))
    return piece.header, piece.body


def _events(content: str, header: list[str], voice: str):
    from notabridge.abc.syntax import Scanner
    from notabridge.abc.bar_check import header_context

    state = header_context(header).state(voice)
    return Scanner(state.unit, state.bar, keep_events=True).feed(content).finish().events or []


def _voices(line: str) -> dict[str, str]:
    from notabridge.abc.bar_check import parse_line

    return {s.voice: s.content for s in parse_line(line)[1]}


def _top_line(line: str, header: list[str], voice: str) -> list[int]:
    """The voice's highest pitch of each note or chord in the bar."""
    from notabridge.abc.syntax import pitch_number

    content = _voices(line).get(voice, "")
    return [max(pitch_number(a, letter, marks) for a, letter, marks, _ in e.notes)
            for e in _events(content, header, voice) if e.notes]


def collect(seeds: int) -> list[dict]:
    """Run every job with the engine of the current directory's checkout: the raw records."""
    from notabridge.engine import Engine
    from notabridge.errors import JobError
    from notabridge.engine.sampling import Sampling

    engine = Engine(Path.cwd() / "models" / "default", device="cpu")
    jobs = []
    for kind, name in PIECES:
        header, body = piece_lines(name)
        start = min(START, max(0, len(body) - GIVEN - GAP - AFTER))
        given = body[start:start + GIVEN]
        after = body[start + GIVEN + GAP:start + GIVEN + GAP + AFTER]
        for seed in range(seeds):
            for mode in ("continue", "infill"):
                jobs.append((mode, name, seed, header, given, after))
    jobs += [("generate", "choral prompt", seed, [], [], []) for seed in range(seeds)]
    records = []
    for mode, name, seed, header, given, after in jobs:
        abc = "".join(header + given)
        record = {"mode": mode, "piece": name, "seed": seed, "given": given}
        t = time.perf_counter()
        try:
            if mode == "continue":
                [variant] = engine.continue_(abc, NEW, Sampling(seed=seed))
            elif mode == "infill":
                [variant] = engine.infill(abc, GAP, after, Sampling(seed=seed), variants=1, candidates=2)
            else:
                [variant] = engine.generate(CHORAL_PROMPT, 8, Sampling(seed=seed))
        except JobError as exc:
            records.append(record | {"error": str(exc)})
            continue
        records.append(record | {"header": variant.header.splitlines(True), "bars": variant.bars,
                                 "valid_first_try": variant.valid_first_try,
                                 "complete": getattr(variant, "complete", True),
                                 "patches": sum(engine.last_run.stats.patches_per_row),
                                 "seconds": time.perf_counter() - t})
    return records


def timing(seeds: int) -> list[float]:
    """Seconds per patch of each continue job (first 3 pieces), for interleaved speed rounds."""
    from notabridge.engine import Engine
    from notabridge.engine.sampling import Sampling

    engine = Engine(Path.cwd() / "models" / "default", device="cpu")
    out = []
    for kind, name in PIECES[:3]:
        header, body = piece_lines(name)
        abc = "".join(header + body[START:START + GIVEN])
        for seed in range(seeds):
            engine.continue_(abc, NEW, Sampling(seed=seed))
            out.append(engine.last_run.seconds / sum(engine.last_run.stats.patches_per_row))
    return out


def python_of(checkout: Path) -> str:
    """The checkout's own venv Python when it has one: `notabridge` is an installed package, so
    only that interpreter imports the checkout's code (sys.path alone reaches old `bridge.*` trees)."""
    own = checkout / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def speed_rounds(checkouts: dict[str, Path], rounds: int, seeds: int) -> dict[str, float]:
    """ms per patch of each checkout: its jobs run in turn with the others' (a subprocess each,
    `rounds` times), each job's least disturbed (minimum) time kept, then averaged."""
    best: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, path in checkouts.items():
            out = subprocess.run([python_of(path), __file__, "--seeds", str(seeds), "--checkout", str(path), "--timing"],
                                 capture_output=True, text=True, check=True).stdout
            times = json.loads(out.strip().splitlines()[-1])
            best[label] = [min(a, b) for a, b in zip(best[label], times)] if label in best else times
    return {label: 1000 * sum(t) / len(t) for label, t in best.items()}


def analyse(records: list[dict]) -> dict:
    """The table's numbers from the raw records (read with this checkout's ABC reader)."""
    cells = sounding = bars = 0
    first_try = 0.0
    leaps = {"last": [0, 0], "other": [0, 0]}   # [leaps of 10+ semitones, note pairs]
    gen_bars = gen_full = patches = 0
    seconds = 0.0
    for r in records:
        if "error" in r:
            continue
        header, given, new = r["header"], r["given"], r["bars"]
        bars += len(new)
        first_try += r["valid_first_try"] * len(new)
        if r["mode"] == "generate":
            voices = [line.split()[0][2:] for line in header if line.startswith("V:")]
            gen_bars += len(new)
            gen_full += sum(len(voices) == 4 and all(_top_line(bar, header, v) for v in voices) for bar in new)
            continue
        if r["mode"] == "continue":
            patches += r["patches"]
            seconds += r["seconds"]
        voices = [v for v in dict.fromkeys(v for line in given for v in _voices(line))
                  if any(_top_line(line, header, v) for line in given)]
        for v in voices:
            prev = _top_line(given[-1], header, v)[-1:]
            for bar in new:
                line = _top_line(bar, header, v)
                cells += 1
                sounding += bool(line)
                for i, p in enumerate(line):
                    if prev:
                        kind = "last" if i == len(line) - 1 else "other"
                        leaps[kind][0] += abs(p - prev[0]) >= 10
                        leaps[kind][1] += 1
                    prev = [p]
    return {
        "sounding_share": sounding / max(1, cells), "cells": cells, "jobs": len(records),
        "failed": sum("error" in r for r in records),
        "stopped": sum(not r.get("complete", True) for r in records if "error" not in r),
        "valid_first_try": first_try / max(1, bars),
        "leap_last": leaps["last"][0] / max(1, leaps["last"][1]), "pairs_last": leaps["last"][1],
        "leap_other": leaps["other"][0] / max(1, leaps["other"][1]), "pairs_other": leaps["other"][1],
        "generate_four_voices": gen_full / max(1, gen_bars), "generate_bars": gen_bars,
        "ms_per_patch": 1000 * seconds / max(1, patches),
        "errors": [f"{r['piece']} seed {r['seed']} {r['mode']}: {r['error']}" for r in records if "error" in r],
    }


ROWS = [("continue/infill: new part-bars with notes (voices sounding in the given bars)", "sounding_share", "{:.2f}"),
        ("jobs failed", "failed", "{}"), ("variants stopped early", "stopped", "{}"),
        ("bars valid on the first try", "valid_first_try", "{:.2f}"),
        ("leaps of 10+ semitones into a bar's last note", "leap_last", "{:.3f}"),
        ("leaps of 10+ semitones elsewhere", "leap_other", "{:.3f}"),
        ("generate (choral prompt): bars with all four voices sounding", "generate_four_voices", "{:.2f}"),
        ("continue: ms per patch (with --compare: interleaved rounds, least disturbed)", "ms_per_patch", "{:.1f}")]


def table(columns: dict[str, dict]) -> str:
    names = list(columns)
    out = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, key, fmt in ROWS:
        out.append(f"| {label} | " + " | ".join(fmt.format(columns[n][key]) for n in names) + " |")
    first = columns[names[0]]
    out.append(f"\n{len(PIECES)} pieces, {first['jobs']} jobs per column, {first['cells']} part-bars counted")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--checkout", type=Path, help="collect the raw records with this checkout's engine (JSON out)")
    ap.add_argument("--compare", type=Path, help="also run another checkout (in a subprocess) and print both")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--timing", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--speed-rounds", type=int, default=3, help="interleaved speed rounds with --compare")
    args = ap.parse_args()
    import os

    if args.checkout:   # a subprocess of --compare: that checkout's engine, raw records only
        os.chdir(args.checkout)
        sys.path.insert(0, str(args.checkout.resolve()))
        print(json.dumps(timing(args.seeds) if args.timing else collect(args.seeds)))
        return 0
    columns = {}
    if args.compare:
        out = subprocess.run([python_of(args.compare), __file__, "--seeds", str(args.seeds), "--checkout", str(args.compare)],
                             capture_output=True, text=True, check=True).stdout
        records = json.loads(out.strip().splitlines()[-1])
        sys.path.insert(0, str(HERE))
        os.chdir(HERE)
        columns[str(args.compare)] = analyse(records)
    sys.path.insert(0, str(HERE))
    os.chdir(HERE)
    columns["this checkout"] = analyse(collect(args.seeds))
    if args.compare:   # speed: both checkouts' continue jobs, interleaved, least disturbed time
        speeds = speed_rounds({str(args.compare): args.compare, "this checkout": HERE}, args.speed_rounds, 2)
        for label, ms in speeds.items():
            columns[label]["ms_per_patch"] = ms
    print(table(columns))
    for name, col in columns.items():
        for error in col["errors"]:
            print(f"{name}: {error}")
    if args.json:
        args.json.write_text(json.dumps(columns, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
