"""Engine speed in the same run: fp32, int8 and int8 + speculation, the fp32 bandwidth floor,
NotaGen's reference decoding, and "continue 4 bars" through the daemon.

    nice -n 10 python bench/engine_speed.py [--model small-shaped|random | --checkpoint X.pth]
        [--contexts 64 256 1024] [--no-reference] [--no-chorale]

Model (cached under --work): by default NotaGen-small's shape (d 768, 12 patch / 3 char layers,
context 2048) carrying the embedded model's trained weights (bench/small_shaped.py), so that
drafts are accepted and bars are valid as with a trained model; `--model random` for random
weights of that shape, `--checkpoint` for a real one. Its int8 copy (notabridge quantize) and
the embedded model's draft table (speculation) are added once.
- engine: notabridge.engine.decoder (ONNX Runtime, KV caches at both levels, numpy sampling), as fp32,
  int8, and int8 with speculative character decoding (bridge/speculative.py);
- reference: the way NotaGen's own loop decodes: torch eager, no cache at either level: every
  new patch re-runs the patch decoder over all patches, every character re-runs the char
  decoder from position 0, logits copied out per character.
Two ways of writing: (1) each new patch forced to its full 16 characters (eos and newline
banned: the worst case, and text no model would write, which handicaps the drafts); per
measurement the median time between consecutive patches; (2) natural decoding after a real
4-part chorale (BWV 66.6's bars repeated up to the context), lines ending where the model ends
them: time per 16 characters written (a short patch still costs a whole patch step, so this is
no kinder than a full patch). Each measure keeps its minimum over interleaved rounds: on a
shared machine the minimum is the measure least disturbed by other work.
Prints, per context length: ms per new patch of each, against the fp32 memory-bandwidth floor
(fp32 weight bytes one patch must read / bandwidth measured here) and the reference; the
speculation statistics; the per-patch time at the end of the context against the start; 4
variants in one batch against 1; and the seconds of "continue 4 bars" of a 4-voice chorale
through the daemon with the int8 bundle (speculation on and off) and the fp32 one (off).
First, "continue 4 bars" of BWV 66.6 in this process with the real bar writer (its masks,
forced runs and bar check), plain against speculative, for the int8 small-shaped bundle and the
embedded model: ms and char-decoder calls per patch (`--jobs-only` stops after these).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from notabridge.engine.bundle import physical_cores  # noqa: E402
from notabridge.abc.patching import EOS_ID, PATCH_SIZE  # noqa: E402

SMALL = dict(hidden_size=768, patch_num_layers=12, char_num_layers=3, patch_length=2048)
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"


def make_bundle(work: Path, checkpoint: Path | None) -> tuple[Path, Path]:
    import torch

    from notabridge.onnx_export.export import export_bundle
    from notabridge.onnx_export.model import ModelSizes, NotaGenModel

    work.mkdir(parents=True, exist_ok=True)
    if checkpoint is None:
        checkpoint = work / "random_small.pth"
        if not checkpoint.exists():
            torch.manual_seed(0)
            model = NotaGenModel(ModelSizes(**SMALL))
            torch.save({"model": model.state_dict()}, checkpoint)
    bundle = work / (checkpoint.stem + "_bundle")
    if not (bundle / "config.json").exists():
        t = time.perf_counter()
        export_bundle(checkpoint, bundle, name=checkpoint.stem)
        print(f"exported {bundle} in {time.perf_counter() - t:.0f} s", flush=True)
    return checkpoint, bundle


def context_patches(n: int) -> list[str]:
    """n patches of plausible interleaved ABC (bos, header, bars), content irrelevant to speed."""
    from notabridge.abc.patching import piece_patches

    bar = "[V:1]G2 A2 B2 c2|[V:2]G,4 D,4|[V:3]B,8|[V:4]G,,8|\n"
    text = "%%score 1 2 3 4\nL:1/8\nM:4/4\nK:G\nV:1\nV:2\nV:3\nV:4\n" + bar * (n // 4 + 8)
    return piece_patches(text, add_eos=False)[:n]


@functools.cache
def chorale_patches(n: int) -> tuple[str, ...]:
    """n patches of a real 4-part chorale (BWV 66.6, music21 corpus, with its prompt), its bars
    repeated as often as needed: text like what users continue, for drafts to be judged on."""
    from music21 import corpus

    from notabridge.notation import to_abc
    from notabridge.abc.patching import piece_patches, split_piece

    piece = split_piece(to_abc(str(corpus.getWork("bach/bwv66.6")), prompt=("Baroque", "Bach, Johann Sebastian", "Choral")))
    text = "".join(piece.header + piece.body * (n // len(piece.body) + 2))
    return tuple(piece_patches(text, add_eos=False)[:n])


class NaturalWriter:
    """Bench writer: a chorale context, then `count` patches as the model writes them (lines end
    when it ends them), recording the characters of each."""

    def __init__(self, context: tuple[str, ...], count: int):
        self._context, self.count, self.stamps, self.chars = list(context), count, [], []

    def context(self, limit: int, at_most: int | None = None) -> list[str]:
        return self._context

    def forced_patch(self):
        return None

    def constraint(self, text: str):
        return None, ""

    def on_patch(self, text: str, eos: bool):
        self.stamps.append(time.perf_counter())
        self.chars.append(len(text))
        return -1 if len(self.stamps) >= self.count else None


def engine_per_16_chars(engine, ctx: int, count: int, stats: list | None = None) -> tuple[float, float]:
    """(seconds per 16 characters written, characters per patch) decoding a chorale naturally:
    all time between the first and the last patch over the characters written in it, times 16
    (shorter patches still cost a whole patch step, so this is no kinder than a full patch)."""
    from notabridge.engine.decoder import Decoder
    from notabridge.engine.sampling import Sampler, Sampling
    from notabridge.engine.speculative import Speculator

    writer = NaturalWriter(chorale_patches(ctx), count)
    speculator = Speculator(engine.bundle.draft) if engine.speculative else None
    Decoder(engine.runner, Sampler(Sampling(seed=0)), speculator).run([writer])
    if speculator is not None and stats is not None:
        stats.append(speculator.stats)
    chars = sum(writer.chars[1:])
    return (writer.stamps[-1] - writer.stamps[0]) / chars * PATCH_SIZE, chars / (len(writer.chars) - 1)


class FullPatchWriter:
    """Bench writer: a fixed context, then `count` unforced patches of 16 characters each."""

    def __init__(self, context: list[str], count: int):
        self._context, self.count, self.stamps = context, count, []

    def context(self, limit: int, at_most: int | None = None) -> list[str]:
        return self._context

    def forced_patch(self):
        return None

    def constraint(self, text: str):
        return None, chr(EOS_ID) + "\n"

    def on_patch(self, text: str, eos: bool):
        self.stamps.append(time.perf_counter())
        return -1 if len(self.stamps) >= self.count else None


def engine_per_patch(engine, ctx: int, count: int, variants: int = 1, stats: list | None = None) -> float:
    """Seconds per new patch (minimum between consecutive patches: no prefill; least disturbed).
    With speculation (engine.speculative) its statistics are appended to `stats`."""
    from notabridge.engine.decoder import Decoder
    from notabridge.engine.sampling import Sampler, Sampling
    from notabridge.engine.speculative import Speculator

    writers = [FullPatchWriter(context_patches(ctx), count) for _ in range(variants)]
    speculator = Speculator(engine.bundle.draft) if engine.speculative else None
    Decoder(engine.runner, Sampler(Sampling(seed=0)), speculator).run(writers)
    if speculator is not None and stats is not None:
        stats.append(speculator.stats)
    stamps = writers[0].stamps
    # median between consecutive patches (no prefill): speculation makes patches unequal, so not the minimum
    return float(np.median(np.diff(stamps)))


def reference_per_patch(model, ctx: int, count: int) -> float:
    """NotaGen's loop: no cache; full recompute per patch and per character; host copy per character."""
    import torch

    from notabridge.abc.patching import patches_to_ids

    ids = torch.from_numpy(patches_to_ids(context_patches(ctx)))
    times = []
    rng = np.random.default_rng(0)
    with torch.inference_mode():
        for _ in range(count):
            t = time.perf_counter()
            pk, pv = model.empty_cache("patch", 1)
            hidden, _, _ = model.patch_level_decoder(ids[None], pk, pv)
            last = hidden[:, -1]
            chars = [1]
            for _ in range(PATCH_SIZE):
                ck, cv = model.empty_cache("char", 1)
                logits, _, _ = model.char_level_decoder(torch.tensor([chars]), last, ck, cv)
                probs = torch.softmax(logits[0, -1], -1).cpu().numpy()   # NotaGen samples on the host
                probs[EOS_ID] = 0
                chars.append(int(rng.choice(len(probs), p=probs / probs.sum())))
            new = torch.zeros(1, PATCH_SIZE, dtype=torch.long)
            new[0] = torch.tensor(chars[1:])
            ids = torch.cat([ids, new])
            times.append(time.perf_counter() - t)
    return min(times)


def bandwidth_gbs(size_mb: int = 512, repeats: int = 5) -> tuple[float, float]:
    """Memory bandwidth in GB/s two ways: a large numpy copy (read + write, one thread) and a
    large float32 matrix-vector product (weights read once, BLAS on all threads: how a decoder
    step at batch 1 reads its weights). The larger is the one the floor uses."""
    src = np.ones(size_mb * 2**20 // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    copy = 2 * src.nbytes / min(_timed(lambda: np.copyto(dst, src)) for _ in range(repeats)) / 1e9
    del src, dst
    w = np.ones((size_mb * 2**20 // (4 * 4096), 4096), dtype=np.float32)
    x = np.ones(4096, dtype=np.float32)
    w @ x
    gemv = w.nbytes / min(_timed(lambda: w @ x) for _ in range(repeats)) / 1e9
    return copy, gemv


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def weight_bytes_per_patch(config: dict) -> float:
    """Bytes of weights one new patch must read: the patch decoder once (one row of its position
    table) and the char decoder 16 times (one position row each time)."""
    d, width = config["hidden_size"], 4 * config["hidden_size"]
    block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * width + width) + (width * d + d)
    item = 2 if config["precision"] == "fp16" else 4
    patch = config["patch_num_layers"] * block + (PATCH_SIZE * 128 * d + d) + d + 2 * d
    char = config["char_num_layers"] * block + 128 * d + d + 2 * d   # wte doubles as lm_head
    return item * (patch + PATCH_SIZE * char)


def variant_bundles(work: Path, fp32: Path) -> Path:
    """The int8 copy of `fp32` (cached), both with the embedded model's draft table when it has one
    (the small-shaped model writes what the embedded one writes, so its training text fits)."""
    from notabridge.engine.bundle import read_config
    from notabridge.engine.draft import DraftTable, add_to_bundle
    from notabridge.onnx_export.quantize import quantize_bundle

    int8 = work / (fp32.name + "_int8")
    if not (int8 / "config.json").is_file():
        t = time.perf_counter()
        quantize_bundle(fp32, int8)
        print(f"quantised {int8} in {time.perf_counter() - t:.0f} s", flush=True)
    source = DEFAULT_MODEL
    draft = read_config(source, verify=False).get("draft")
    for bundle in (fp32, int8):
        if draft and not read_config(bundle, verify=False).get("draft") and "small_shaped" in bundle.name:
            add_to_bundle(bundle, DraftTable.load(source / draft["file"]), f"{source.name}: {draft.get('source', '')}")
    return int8


def chorale_seconds(model: Path, runs: int, speculative: bool) -> list[float]:
    """Seconds of "continue 4 bars" after 4 measures of BWV 66.6 through the daemon's HTTP door
    (submit, poll, result), one job at a time, after a warm-up job."""
    import socket

    from latency import chorale_excerpt, free_port, start_daemon, via_http

    ports = {"http": free_port(), "udp": free_port(socket.SOCK_DGRAM), "tcp": free_port()}
    daemon = start_daemon(str(model), ports, extra=["--speculative" if speculative else "--no-speculative"], quiet=True)
    excerpt = chorale_excerpt()
    try:
        times = []
        for run in range(runs + 1):
            job = {"mode": "continue", "excerpt": excerpt, "bars": 4, "variants": 1, "settings": {"seed": run}}
            seconds, _ = via_http(ports["http"], job)
            if run:
                times.append(seconds)
        return times
    finally:
        daemon.terminate()
        daemon.wait(30)


def continue_job(engine, seeds: range) -> tuple[float, float]:
    """(seconds per patch, char-decoder calls per patch) of "continue 4 bars" after 4 measures of
    BWV 66.6 in this process: the real bar writer (its masks, forced runs, bar check), one job
    per seed, prefill included."""
    from music21 import corpus

    from notabridge.abc.patching import split_piece
    from notabridge.engine.sampling import Sampling
    from notabridge.notation import to_abc

    piece = split_piece(to_abc(corpus.parse("bach/bwv66.6"), prompt=("Baroque", "Bach, Johann Sebastian", "Choral")))
    abc = "".join(piece.header + piece.body[:5])
    seconds = patches = calls = 0
    for seed in seeds:
        t = time.perf_counter()
        engine.continue_(abc, 4, Sampling(seed=seed))
        seconds += time.perf_counter() - t
        patches += engine.last_run.stats.patch_steps
        calls += engine.last_run.stats.char_steps
    return seconds / patches, calls / patches


def continue_jobs(engines: dict, rounds: int, seeds: range) -> None:
    """continue_job for each engine in interleaved rounds; prints each one's best round."""
    best: dict = {}
    for _ in range(rounds):
        for name, e in engines.items():
            per_patch, calls = continue_job(e, seeds)
            best[name] = min(best.get(name, (per_patch, calls)), (per_patch, calls))
    print(f"\ncontinue 4 bars of BWV 66.6 in this process (the bar writer; {len(seeds)} seeds, best of {rounds} rounds)")
    for name, (per_patch, calls) in best.items():
        print(f"  {name:>22}: {per_patch * 1000:6.1f} ms/patch, {calls:5.2f} char-decoder calls/patch", flush=True)
    names = list(best)
    for plain, spec in zip(names[0::2], names[1::2]):
        print(f"  {spec} against {plain}: {best[plain][0] / best[spec][0]:.2f}x faster", flush=True)


def spec_summary(stats: list) -> str:
    calls = sum(s.calls for s in stats)
    patches = sum(s.patches for s in stats)
    chars = sum(s.chars for s in stats)
    drafted, accepted = sum(s.drafted for s in stats), sum(s.accepted for s in stats)
    return (f"{chars / calls:.2f} characters per char-decoder call, {calls / patches:.1f} calls per patch "
            f"(plain: one per character, 16), drafts kept {accepted / max(drafted, 1):.0%}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["small-shaped", "random"], default="small-shaped",
                    help="small-shaped: the embedded model's trained weights at NotaGen-small's shape "
                         "(bench/small_shaped.py); random: random weights of that shape")
    ap.add_argument("--checkpoint", type=Path, help="a NotaGen .pth instead of --model")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "notabridge_bench")
    ap.add_argument("--contexts", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--patches", type=int, default=10, help="new patches timed per engine measurement")
    ap.add_argument("--natural-patches", type=int, default=24, help="patches written per natural-decoding measurement")
    ap.add_argument("--reference-patches", type=int, default=2, help="new patches timed per reference measurement")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each measure keeps its minimum")
    ap.add_argument("--no-reference", action="store_true",
                    help="time the engine only (the reference takes seconds a patch; its code does not change)")
    ap.add_argument("--no-chorale", action="store_true", help="skip the daemon's continue-4-bars timing")
    ap.add_argument("--chorale-runs", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--jobs-only", action="store_true",
                    help="only the in-process continue jobs (plain against speculative, small shape int8 and embedded)")
    ap.add_argument("--job-rounds", type=int, default=3, help="interleaved rounds of the in-process continue jobs")
    args = ap.parse_args()

    import torch

    from notabridge.engine import Engine
    from notabridge.onnx_export.checkpoint import load_model

    threads = physical_cores()
    torch.set_num_threads(threads)
    if args.checkpoint is None and args.model == "small-shaped":
        from small_shaped import make_small_shaped

        bundle = make_small_shaped(args.work, DEFAULT_MODEL)
        checkpoint = args.work / "small_shaped.pth"
    else:
        checkpoint, bundle = make_bundle(args.work, args.checkpoint)
    int8_bundle = variant_bundles(args.work, bundle)
    engines = {"fp32": Engine(bundle, device="cpu", threads=threads, speculative=False),
               "int8": Engine(int8_bundle, device="cpu", threads=threads, speculative=False),
               "int8+spec": Engine(int8_bundle, device="cpu", threads=threads, speculative=True)}
    if not engines["int8+spec"].speculative:
        del engines["int8+spec"]
        print("no draft table for this model: speculation not measured", flush=True)
    embedded = Engine(DEFAULT_MODEL, device="cpu", threads=threads, speculative=False)
    continue_jobs({"small int8": engines["int8"], "small int8 + speculation": engines.get("int8+spec"),
                   "embedded": embedded, "embedded + speculation": Engine(embedded.bundle, speculative=True)},
                  args.job_rounds, range(4))
    del embedded
    if args.jobs_only:
        return 0
    engine = engines["fp32"]
    model = load_model(checkpoint, torch.float32).eval() if not args.no_reference else None
    cfg = engine.config
    print(f"model: {bundle.name}, d {cfg['hidden_size']}, {cfg['patch_num_layers']}/{cfg['char_num_layers']} layers, "
          f"context {cfg['patch_length']}; {threads} threads; provider {engine.provider}", flush=True)

    copy_bw, gemv_bw = bandwidth_gbs()
    bw = max(copy_bw, gemv_bw)
    per_patch_bytes = weight_bytes_per_patch(cfg)
    floor = per_patch_bytes / (bw * 1e9)
    print(f"memory bandwidth: numpy copy {copy_bw:.1f} GB/s, float32 matrix-vector read {gemv_bw:.1f} GB/s; "
          f"fp32 weights read per patch {per_patch_bytes / 1e9:.2f} GB -> floor {floor * 1000:.0f} ms/patch",
          flush=True)

    for e in engines.values():
        engine_per_patch(e, 16, 3)  # warm-up
    end_ctx = cfg["patch_length"] - args.patches - 2
    best: dict = {}
    spec_stats: dict[int, list] = {}
    natural_stats: dict[int, list] = {}
    chars_per_patch: dict[int, list] = {}

    def keep(key, value):
        best[key] = min(best.get(key, value), value)

    # the machine is shared: measure in interleaved rounds and keep each measure's minimum
    for round_ in range(args.rounds):
        for ctx in args.contexts:
            for name, e in engines.items():
                keep((name, ctx), engine_per_patch(e, ctx, args.patches, stats=spec_stats.setdefault(ctx, [])))
                per16, per_patch = engine_per_16_chars(e, ctx, args.natural_patches,
                                                      stats=natural_stats.setdefault(ctx, []))
                keep((name, "natural", ctx), per16)
                chars_per_patch.setdefault(ctx, []).append(per_patch)
            if model is not None:
                keep(("reference", ctx), reference_per_patch(model, ctx, args.reference_patches))
        keep(("fp32", end_ctx), engine_per_patch(engine, end_ctx, args.patches))
        keep(("batch", 1), engine_per_patch(engine, 256, args.patches, variants=1))
        keep(("batch", 4), engine_per_patch(engine, 256, args.patches, variants=4))
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)

    rows = []
    names = list(engines)
    print(f"\nms per new patch of 16 characters (median over {args.patches} patches, best of {args.rounds} rounds); "
          f"/floor = against the fp32 bandwidth floor ({floor * 1000:.0f} ms)")
    print(f"{'context':>7} " + " ".join(f"{n:>10} {'/floor':>6}" for n in names) + f" {'reference':>10} {'ref/fp32':>8}")
    for ctx in args.contexts:
        row = {"context": ctx, **{f"{n}_s": best[(n, ctx)] for n in names},
               "reference_s": best.get(("reference", ctx), float("nan"))}
        rows.append(row)
        cells = " ".join(f"{best[(n, ctx)] * 1000:10.1f} {best[(n, ctx)] / floor:6.2f}" for n in names)
        print(f"{ctx:7d} {cells} {row['reference_s'] * 1000:10.0f} {row['reference_s'] / row['fp32_s']:8.1f}x", flush=True)
    last = args.contexts[-1]
    print(f"\nnatural decoding after BWV 66.6 (lines end where the model ends them, {args.natural_patches} patches): "
          f"ms per 16 characters written; /floor as above")
    print(f"{'context':>7} " + " ".join(f"{n:>10} {'/floor':>6}" for n in names) + f" {'chars/patch':>11}")
    for ctx in args.contexts:
        cells = " ".join(f"{best[(n, 'natural', ctx)] * 1000:10.1f} {best[(n, 'natural', ctx)] / floor:6.2f}"
                         for n in names)
        print(f"{ctx:7d} {cells} {np.mean(chars_per_patch[ctx]):11.1f}", flush=True)
        rows[args.contexts.index(ctx)] |= {f"{n}_natural_per16_s": best[(n, "natural", ctx)] for n in names}
    if "int8+spec" in engines:
        print(f"speculation at context {last}, forced 16-character patches: {spec_summary(spec_stats[last])}")
        print(f"speculation at context {last}, natural decoding: {spec_summary(natural_stats[last])}")
        for label, key in (("forced 16-character patches", ()), ("natural decoding, per 16 characters", ("natural",))):
            fast = best[("int8+spec", *key, last)]
            print(f"int8 + speculation at {last}, {label}: {fast / floor:.2f}x the fp32 floor (target <= 0.35), "
                  f"{best[('fp32', *key, last)] / fast:.2f}x faster than fp32, "
                  f"{best[('int8', *key, last)] / fast:.2f}x faster than int8")
    end, start = best[("fp32", end_ctx)], rows[0]["fp32_s"]
    print(f"end of context ({end_ctx} patches), fp32: {end * 1000:.0f} ms/patch, "
          f"{end / start:.2f}x the time at {rows[0]['context']}", flush=True)
    one, four = best[("batch", 1)], best[("batch", 4)]
    print(f"variants at context 256, fp32: 1 -> {one * 1000:.0f} ms/patch step, 4 in one batch -> {four * 1000:.0f} ms "
          f"({four / one:.2f}x the time for 4x the music)", flush=True)
    result = {"bandwidth_gbs": bw, "floor_s": floor, "rows": rows, "end_s": end, "end_over_start": end / start,
              "one_s": one, "four_s": four}
    if not args.no_chorale:
        del engines, engine   # free their memory before the daemons load theirs
        fast = chorale_seconds(int8_bundle, args.chorale_runs, speculative=True)
        int8_plain = chorale_seconds(int8_bundle, args.chorale_runs, speculative=False)
        slow = chorale_seconds(bundle, args.chorale_runs, speculative=False)
        median = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
        print(f"\ncontinue 4 bars of BWV 66.6 (4 voices) through the daemon (HTTP), median of {args.chorale_runs}: "
              f"int8 + speculation {median(fast):.2f} s (target < 3 s), int8 {median(int8_plain):.2f} s, "
              f"fp32 {median(slow):.2f} s ({median(slow) / median(fast):.2f}x)", flush=True)
        result |= {"chorale_int8_spec_s": fast, "chorale_int8_s": int8_plain, "chorale_fp32_s": slow}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
