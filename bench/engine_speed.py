"""Engine speed against NotaGen's reference decoding, on the same weights, in the same run.

    nice -n 10 python bench/engine_speed.py [--checkpoint X.pth] [--contexts 64 256 1024] [--no-reference]

Model: a random NotaGen-small-shaped checkpoint (d 768, 12 patch / 3 char layers, context 2048),
exported to a bundle once (cached under --work), or a real checkpoint with --checkpoint.
- engine: notabridge.engine.decoder (ONNX Runtime, KV caches at both levels, numpy sampling);
- reference: the way NotaGen's own loop decodes: torch eager, no cache at either level: every
  new patch re-runs the patch decoder over all patches, every character re-runs the char
  decoder from position 0, logits copied out per character.
Each new patch is forced to its full 16 characters (eos banned), the worst case for both.
Times are the minimum over the patches timed and over interleaved rounds: on a shared machine
the minimum is the measure least disturbed by other work.
Prints, per context length: seconds per new patch of each, their ratio; the engine against
the memory-bandwidth floor (weight bytes one patch must read / bandwidth measured here by a
large numpy copy); the per-patch time at each context against the shortest; and the time of
4 variants decoded as one batch against 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notabridge.engine.bundle import physical_cores  # noqa: E402
from notabridge.abc.patching import EOS_ID, PATCH_SIZE  # noqa: E402

SMALL = dict(hidden_size=768, patch_num_layers=12, char_num_layers=3, patch_length=2048)


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


class FullPatchWriter:
    """Bench writer: a fixed context, then `count` unforced patches of 16 characters each."""

    def __init__(self, context: list[str], count: int):
        self._context, self.count, self.stamps = context, count, []

    def context(self, limit: int) -> list[str]:
        return self._context

    def forced_patch(self):
        return None

    def constraint(self, text: str):
        return None, chr(EOS_ID) + "\n"

    def on_patch(self, text: str, eos: bool):
        self.stamps.append(time.perf_counter())
        return -1 if len(self.stamps) >= self.count else None


def engine_per_patch(engine, ctx: int, count: int, variants: int = 1) -> float:
    from notabridge.engine.decoder import Decoder
    from notabridge.engine.sampling import Sampler, Sampling

    writers = [FullPatchWriter(context_patches(ctx), count) for _ in range(variants)]
    Decoder(engine.runner, Sampler(Sampling(seed=0))).run(writers)
    stamps = writers[0].stamps
    return float(np.min(np.diff(stamps)))  # between consecutive patches (no prefill); least disturbed


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, help="a NotaGen .pth (default: a random NotaGen-small-shaped one)")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "notabridge_bench")
    ap.add_argument("--contexts", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--patches", type=int, default=6, help="new patches timed per engine measurement")
    ap.add_argument("--reference-patches", type=int, default=2, help="new patches timed per reference measurement")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each measure keeps its minimum")
    ap.add_argument("--no-reference", action="store_true",
                    help="time the engine only (the reference takes seconds a patch; its code does not change)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    import torch

    from notabridge.engine import Engine
    from notabridge.onnx_export.checkpoint import load_model

    threads = physical_cores()
    torch.set_num_threads(threads)
    checkpoint, bundle = make_bundle(args.work, args.checkpoint)
    engine = Engine(bundle, device="cpu", threads=threads)
    model = load_model(checkpoint, torch.float32).eval()
    cfg = engine.config
    print(f"model: d {cfg['hidden_size']}, {cfg['patch_num_layers']}/{cfg['char_num_layers']} layers, "
          f"context {cfg['patch_length']}, {cfg['precision']}; {threads} threads; provider {engine.provider}", flush=True)

    copy_bw, gemv_bw = bandwidth_gbs()
    bw = max(copy_bw, gemv_bw)
    per_patch_bytes = weight_bytes_per_patch(cfg)
    floor = per_patch_bytes / (bw * 1e9)
    print(f"memory bandwidth: numpy copy {copy_bw:.1f} GB/s, float32 matrix-vector read {gemv_bw:.1f} GB/s; "
          f"weights read per patch {per_patch_bytes / 1e9:.2f} GB -> floor {floor * 1000:.0f} ms/patch", flush=True)

    engine_per_patch(engine, 16, 3)  # warm-up
    end_ctx = cfg["patch_length"] - args.patches - 2
    best: dict = {}

    def keep(key, value):
        best[key] = min(best.get(key, value), value)

    # the machine is shared: measure in interleaved rounds and keep each measure's minimum
    for round_ in range(args.rounds):
        for ctx in args.contexts:
            keep(("engine", ctx), engine_per_patch(engine, ctx, args.patches))
            if not args.no_reference:
                keep(("reference", ctx), reference_per_patch(model, ctx, args.reference_patches))
        keep(("engine", end_ctx), engine_per_patch(engine, end_ctx, args.patches))
        keep(("batch", 1), engine_per_patch(engine, 256, args.patches, variants=1))
        keep(("batch", 4), engine_per_patch(engine, 256, args.patches, variants=4))
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)

    rows = []
    for ctx in args.contexts:
        eng, ref = best[("engine", ctx)], best.get(("reference", ctx), float("nan"))
        rows.append({"context": ctx, "engine_s": eng, "reference_s": ref, "ratio": ref / eng, "vs_floor": eng / floor})
        print(f"context {ctx:5d}: engine {eng * 1000:7.0f} ms/patch  reference {ref * 1000:8.0f} ms/patch  "
              f"ratio {ref / eng:6.1f}x  engine/floor {eng / floor:4.2f}", flush=True)
    end, start = best[("engine", end_ctx)], rows[0]["engine_s"]
    print(f"end of context ({end_ctx} patches): engine {end * 1000:.0f} ms/patch, "
          f"{end / start:.2f}x the time at {rows[0]['context']}", flush=True)
    one, four = best[("batch", 1)], best[("batch", 4)]
    print(f"variants at context 256: 1 -> {one * 1000:.0f} ms/patch step, 4 in one batch -> {four * 1000:.0f} ms "
          f"({four / one:.2f}x the time for 4x the music)", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"bandwidth_gbs": bw, "floor_s": floor, "rows": rows, "end_s": end,
                                         "end_over_start": end / start, "one_s": one, "four_s": four}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
