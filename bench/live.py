"""The live accompanist in real time: margins before each downbeat, late bars, and how well the
accompaniment fits the melody, against offline `accompany` on the same melody in the same run.

    nice -n 5 python bench/live.py [--tempos 60 120 180] [--mode forward] [--lookahead 4]
                                   [--melodies chorale folk] [--seeds 3] [--small] [--bars 48]
    nice -n 10 python bench/live.py --skip-live --small --int8 --carried-only --bars 24 --rounds 2

1. Embedded model (models/default): the live door (notabridge.daemon.live) is fed in real time
   by a DAW thread playing a real melody with MIDI clock (a Bach chorale soprano in 4/4, an Essen
   folk tune in 3/4 with an upbeat, from music21's corpus); the output port is the in-memory
   one of the tests. Per tempo: bars written, late bars (skipped), failed bars, the margin (time
   left before the downbeat when the bar was ready) p50 and p99 (99% of bars had at least this
   much), the engine's time per bar p50/p99.
2. Clash rate: the share of (melody, accompaniment voice) pairs sounding a dissonant interval
   (minor/major second, tritone, minor/major seventh, by pitch class) on the strong beats, for
   the live take (the melody as played against what the door sounded with it) and for offline
   `accompany` (notabridge.jobs.compose on the same melody file, same voices and prompt, the
   same number of seeds), and their ratio (target: within 1.5x).
3. Carried KV cache against a re-prefill per bar, same bars replayed (`--bars` long): engine time
   per bar with each, for the embedded model and, with --small, a NotaGen-small-shaped random
   bundle (d 768, 12 patch layers, context 2048; built once under --work as bench/engine_speed.py
   does). A random model writes no valid bars, so its bars are the embedded model's bars decoded
   character by character (every character through the char decoder, as when sampled); the
   margin it would have at each tempo is the lookahead minus that time (every bar of every
   round, the lookahead chosen as the door chooses it from the bars before). With --int8 the same
   for the int8 copy of that bundle (`notabridge quantize`, built once under --work, or the
   int8 bundle named), next to the fp32 one in the same run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DISSONANT = {1, 2, 6, 10, 11}   # pitch-class intervals: seconds, tritone, sevenths


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---- clash rate ---------------------------------------------------------------------------------

def strong_beats(meter: tuple[int, int], tpb: int) -> list[int]:
    bar = tpb * 4 * meter[0] // meter[1]
    if meter[1] == 8 and meter[0] % 3 == 0:
        return list(range(0, bar, 3 * tpb // 2 * (2 if meter[0] >= 12 else 1)))[:2]
    return [0, bar // 2] if meter[0] % 2 == 0 and meter[0] >= 4 else [0]


def clash_rate(melody: list[tuple[int, int, int]], voices: list[list[tuple[int, int, int]]],
               meter: tuple[int, int], tpb: int, first_tick: int = 0) -> tuple[int, int]:
    """(dissonant pairs, pairs) on the strong beats: (start, end, pitch) notes in file ticks."""
    bar = tpb * 4 * meter[0] // meter[1]
    last = max([e for _, e, _ in melody] + [e for v in voices for _, e, _ in v] + [0])
    dissonant = pairs = 0
    for downbeat in range(first_tick, last, bar):
        for beat in strong_beats(meter, tpb):
            t = downbeat + beat
            top = [p for s, e, p in melody if s <= t < e]
            if not top:
                continue
            for voice in voices:
                for s, e, p in voice:
                    if s <= t < e:
                        pairs += 1
                        dissonant += (top[0] - p) % 12 in DISSONANT
    return dissonant, pairs


def take_clash(midi_path: str, meter: tuple[int, int]) -> tuple[int, int]:
    import mido

    from tests.daw_helpers import absolute_notes

    midi = mido.MidiFile(midi_path)
    melody, *voices = midi.tracks[1:]
    return clash_rate(absolute_notes(melody), [absolute_notes(v) for v in voices], meter, midi.ticks_per_beat)


def offline_clash(engine, melody_path: Path, voices: int, prompt, seed: int, meter) -> tuple[int, int]:
    from notabridge.engine.sampling import Sampling
    from notabridge.jobs.compose import ComposeJob, compose
    from notabridge.notation import midi_clip
    from tests.daw_helpers import absolute_notes

    midi = midi_clip.read_midi(str(melody_path))
    clip = midi_clip.clip_from_midi(midi)
    staves = list(range(1, voices + 1))
    job = ComposeJob(mode="accompany", excerpt=midi_clip.accompaniment_excerpt(clip, voices), prompt=prompt,
                     sampling=Sampling(seed=seed), staves=staves)
    result = compose(job, engine)
    out = midi_clip.add_accompaniment(midi, clip, result.variants[0]["excerpt"], staves)
    melody = [n for t in out.tracks[:len(midi.tracks)] for n in absolute_notes(t)]
    added = [absolute_notes(t) for t in out.tracks[len(midi.tracks):]]
    return clash_rate(melody, added, meter, out.ticks_per_beat)


# ---- live runs ----------------------------------------------------------------------------------

def melodies(names: list[str]):
    from tests.live_helpers import chorale_soprano, folk_tune

    table = {"chorale": lambda: chorale_soprano("bach/bwv66.6"), "folk": folk_tune}
    return [(name, *table[name]()) for name in names]


def live_take(daemon, notes, upbeat, meter, key, bpm, mode, lookahead, voices, seed, folder):
    import mido

    from notabridge.daemon.live import LiveDoor, LiveOptions
    from tests import daemon_midi_backend as fake_os
    from tests.live_helpers import performance, play_real_time

    daemon.settings.update({"seed": seed})
    fake_os.received["Synth in"].clear()
    out = mido.Backend("tests.daemon_midi_backend", load=True).open_output("Synth in")
    door = LiveDoor(daemon, out, folder, options=LiveOptions(mode=mode, meter=f"{meter[0]}/{meter[1]}", key=key,
                                                            voices=voices, lookahead=lookahead))
    door.arm()
    door.wait_idle(300)
    play_real_time(performance(notes, upbeat, meter, bpm), door.on_message)
    door.wait_idle(300)
    stats, take, lookahead = door.stats, door.last_take, door.state()["lookahead_used"]
    door.close()
    return stats, take, lookahead


def run_live(args, engine) -> None:
    from notabridge.daemon.app import Daemon, ServeOptions
    from notabridge.jobs.compose import default_prompt
    from tests.daw_helpers import write_melody

    daemon = Daemon(engine, ServeOptions(http_port=None, osc_port=None, osc_tcp_port=None), say=lambda line: None)
    prompt = default_prompt(engine.info.get("prompts") or [])
    folder = Path(tempfile.mkdtemp(prefix="notabridge-bench-live-"))
    print(f"\n== live, embedded model, mode {args.mode}, lookahead {args.lookahead} (sixteenths), "
          f"{args.voices} voices, {args.seeds} seed(s) per melody and tempo ==")
    print(f"{'melody':8} {'bpm':>4} {'bars':>5} {'late':>5} {'failed':>6} {'margin p50':>11} {'margin p99':>11} "
          f"{'engine p50':>11} {'engine p99':>11} {'lookahead':>9} {'clash':>7}")
    clash_live: dict[str, list[int]] = {}
    for name, notes, upbeat, meter, key in melodies(args.melodies):
        for bpm in args.tempos:
            margins, engine_s, late, failed, bars, d, p, looks = [], [], 0, 0, 0, 0, 0, []
            for seed in range(args.seeds):
                stats, take, lookahead_used = live_take(daemon, notes, upbeat, meter, key, bpm, args.mode, args.lookahead,
                                        args.voices, seed, folder)
                margins += stats.margins
                looks.append(lookahead_used)
                engine_s += stats.engine_seconds
                late, failed, bars = late + stats.late, failed + stats.failed, bars + stats.bars_ready + stats.late
                dd, pp = take_clash(take["midi"], meter)
                d, p = d + dd, p + pp
            total = clash_live.setdefault(name, [0, 0])
            total[0], total[1] = total[0] + d, total[1] + p
            print(f"{name:8} {bpm:>4} {bars:>5} {late:>5} {failed:>6} {1000 * statistics.median(margins):>9.0f}ms "
                  f"{1000 * percentile(margins, 0.01):>9.0f}ms {1000 * statistics.median(engine_s):>9.0f}ms "
                  f"{1000 * percentile(engine_s, 0.99):>9.0f}ms {max(looks):>9} {d / max(p, 1):>7.3f}", flush=True)
    print("\n== clash rate on strong beats: live (all tempos) vs offline accompany on the same melody ==")
    for name, notes, upbeat, meter, key in melodies(args.melodies):
        bar = Fraction(4 * meter[0], meter[1])
        offset = bar - upbeat if upbeat else Fraction(0)
        path = write_melody(folder / f"{name}.mid", [(float(o + offset), float(n), q) for o, n, q in notes],
                            meter=meter, bpm=100, key=key)
        d = p = 0
        for seed in range(args.seeds):
            dd, pp = offline_clash(engine, path, args.voices, prompt, seed, meter)
            d, p = d + dd, p + pp
        live_d, live_p = clash_live[name]
        live_rate, offline_rate = live_d / max(live_p, 1), d / max(p, 1)
        print(f"{name:8} live {live_rate:.3f} ({live_d}/{live_p})  offline {offline_rate:.3f} ({d}/{p})  "
              f"ratio {live_rate / offline_rate if offline_rate else float('inf'):.2f} (target <= 1.5)", flush=True)


# ---- carried cache against re-prefill -----------------------------------------------------------

def take_lines(engine, bars: int) -> tuple[str, list[str]]:
    """`bars` bars of a take as the live door keeps them: the chorale's soprano (repeated) under
    the embedded model's three voices, written bar by bar in echo mode."""
    from notabridge.daemon.live import key_of
    from notabridge.engine.live_session import LiveSession, melody_segment
    from notabridge.engine.sampling import Sampling
    from notabridge.notation.live_bars import live_header, melody_bar
    from tests.live_helpers import chorale_soprano, played_bars

    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    fifths, mode = key_of(key)
    header = live_header(meter, fifths, mode, 3, ("Baroque", "Bach, Johann Sebastian", "Choral"))
    melody = [melody_bar(n, length, fifths) for n, length in played_bars(notes, upbeat, meter)][1:]
    session = LiveSession(engine, header)
    lines = []
    for bar in range(bars):
        lines.append(session.write_bar(lines, melody_segment("1", melody[bar % len(melody)]), Sampling(seed=bar)).line)
    return header, lines


def replay(engine, header: str, lines: list[str], carry: bool) -> list[tuple[float, float]]:
    """(engine seconds, of which prefill) per bar when bar i is decoded after bars 0..i-1,
    character by character."""
    from notabridge.abc.bar_check import parse_line
    from notabridge.abc.patching import split_piece
    from notabridge.engine.decoder import Decoder
    from notabridge.engine.live_session import CarryRunner, LiveWriter
    from notabridge.engine.sampling import Sampler, Sampling

    class CharByChar(LiveWriter):
        def forced_patch(self):   # no shortcut for given text: every character through the char decoder
            return None

    runner = CarryRunner(engine.runner)
    head = split_piece(header).header
    times = []
    for i, line in enumerate(lines):
        writer = CharByChar(take_bars=64, prompt=[], header=head, prefix_body=lines[:i], bars=1,
                            given=[parse_line(line)[1]])
        if not carry:
            runner.forget()
        runner.begin()
        start = time.perf_counter()
        Decoder(runner, Sampler(Sampling(seed=0))).run([writer])
        times.append((time.perf_counter() - start, runner.prefill_seconds))
        runner.keep_last()
    return times


def run_carry(args, engine) -> None:
    from notabridge.engine import Engine

    print(f"\n== carried KV cache vs re-prefill per bar: {args.bars} bars of a take, {args.rounds} interleaved "
          f"rounds; times per bar: each bar's fastest round; margins: every bar of every round ==")
    header, lines = take_lines(engine, args.bars)
    bundles = [("embedded (5.4 M parameters, fp32)", engine)]
    if args.small:
        sys.path.insert(0, str(ROOT / "bench"))
        from engine_speed import make_bundle

        _, bundle = make_bundle(args.work, None)
        bundles.append(("NotaGen-small-shaped (random, 110 M parameters, fp32)", Engine(bundle, device="cpu")))
        if args.int8 is not None:
            bundles.append(("NotaGen-small-shaped (random, 110 M parameters, int8)",
                            Engine(int8_bundle(bundle, args.int8), device="cpu")))
    ways = (True,) if args.carried_only else (False, True)
    runs: dict[str, dict[bool, list]] = {name: {False: [], True: []} for name, _ in bundles}
    for _, model in bundles:
        replay(model, header, lines[:2], carry=True)   # warm the sessions
    for _ in range(args.rounds):   # rounds interleaved across the models: a change of the machine's load hits all
        for name, model in bundles:
            for carry in ways:
                runs[name][carry].append(replay(model, header, lines, carry))
    medians: dict[str, float] = {}
    for name, model in bundles:
        print(f"{name}:")
        best = {}
        for carry in ways:
            best[carry] = [min(r[i] for r in runs[name][carry]) for i in range(len(lines))]
            total, prefill = [t for t, _ in best[carry]], [p for _, p in best[carry]]
            half = len(lines) // 2
            print(f"  {'carried cache' if carry else 're-prefill   '}: per bar p50 {1000 * statistics.median(total):6.0f} ms "
                  f"(prefill {1000 * statistics.median(prefill):5.0f} ms), p99 {1000 * percentile(total, 0.99):6.0f} ms; "
                  f"last {len(lines) - half} bars p50 {1000 * statistics.median(total[half:]):6.0f} ms "
                  f"(prefill {1000 * statistics.median(prefill[half:]):5.0f} ms)")
        half = len(lines) // 2
        if not args.carried_only:
            ratio = (statistics.median([t for t, _ in best[False][half:]]) /
                     statistics.median([t for t, _ in best[True][half:]]))
            print(f"  re-prefill / carried, last {len(lines) - half} bars: {ratio:.2f}x")
        medians[name] = statistics.median([t for t, _ in best[True]])
        for other in medians:   # per bar against the models before it, measured in the same rounds
            if other != name:
                print(f"  per bar: {medians[name] / medians[other]:.2f}x the {other.split(' (')[0]} "
                      f"({other.split(', ')[-1].rstrip(')')})")
        for bpm in args.tempos:   # the margins the door would have with these times (4/4)
            sixteenth = 60.0 / bpm / 4
            margins, looks = [], []
            for run in runs[name][True]:   # every bar of every round, as it came (not the fastest)
                for m, look in door_margins([t for t, _ in run], sixteenth, args.lookahead):
                    margins.append(m)
                    looks.append(look)
            print(f"  at {bpm:g} bpm, lookahead {min(looks)}-{max(looks)} sixteenths (median "
                  f"{1000 * statistics.median(looks) * sixteenth:.0f} ms): margin p50 "
                  f"{1000 * statistics.median(margins):.0f} ms, p99 {1000 * percentile(margins, 0.01):.0f} ms, "
                  f"least {1000 * min(margins):.0f} ms, late {sum(m <= 0 for m in margins)}/{len(margins)}", flush=True)


def door_margins(times: list[float], sixteenth: float, lookahead) -> list[tuple[float, int]]:
    """(margin, lookahead) per bar of a take whose bars took `times`, with the door's policy: a
    fixed lookahead, or "auto" from the slowest of the last 8 bars (the first bar: its own
    time, as the door's warm-up bar stands in for it)."""
    from notabridge.daemon.live import auto_lookahead

    out = []
    for i, t in enumerate(times):
        look = lookahead if lookahead != "auto" else auto_lookahead(times[max(0, i - 8):i] or [t], sixteenth, 14)
        out.append((look * sixteenth - t, look))
    return out


def int8_bundle(fp32: Path, named: str) -> Path:
    """The int8 bundle named, or ("build") the one `notabridge quantize` writes beside `fp32` once."""
    import subprocess

    if named != "build":
        return Path(named)
    out = fp32.with_name(fp32.name + "_int8")
    if not (out / "config.json").exists():
        started = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("notabridge")), "quantize", str(fp32), str(out)], check=True)
        print(f"quantized {out} in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tempos", type=float, nargs="+", default=[60, 120, 180])
    ap.add_argument("--mode", choices=["forward", "echo"], default="forward")
    ap.add_argument("--lookahead", default="auto",
                    help='sixteenths, or "auto" (the door\'s default: chosen from the engine\'s recent times)')
    ap.add_argument("--voices", type=int, default=3)
    ap.add_argument("--melodies", nargs="+", choices=["chorale", "folk"], default=["chorale", "folk"])
    ap.add_argument("--seeds", type=int, default=1, help="live takes (and offline runs) per melody and tempo")
    ap.add_argument("--bars", type=int, default=48, help="bars replayed for the carried-cache comparison")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of that comparison")
    ap.add_argument("--small", action="store_true", help="also time a NotaGen-small-shaped random bundle")
    ap.add_argument("--skip-live", action="store_true", help="only the carried-cache comparison")
    ap.add_argument("--int8", nargs="?", const="build", metavar="BUNDLE",
                    help="with --small, also its int8 copy: this bundle, or one built by `notabridge quantize`")
    ap.add_argument("--carried-only", action="store_true",
                    help="time the carried cache only (no re-prefill rounds): the margins need no more")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "notabridge_bench")
    args = ap.parse_args()
    if args.lookahead != "auto":
        args.lookahead = int(args.lookahead)
    if args.int8 is not None and not args.small:
        ap.error("--int8 times the int8 copy of the NotaGen-small-shaped bundle: add --small")

    from notabridge.engine import Engine
    from notabridge.engine.bundle import DEFAULT_BUNDLE

    engine = Engine(DEFAULT_BUNDLE, device="cpu")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; model {engine.info.get('name')}")
    if not args.skip_live:
        run_live(args, engine)
    run_carry(args, engine)


if __name__ == "__main__":
    main()
