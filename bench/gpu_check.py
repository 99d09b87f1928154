"""The measuring half of bench/gpu_check.sh: parity with the CPU and per-patch decoding time.

    python bench/gpu_check.py --fp32 BUNDLE --fp16 BUNDLE [--provider cuda] [--contexts 16 256 1024]

For each bundle on the device: the next-character log-probabilities of a 4-part piece
(teacher forced, notabridge.engine.scoring) against the fp32 bundle on ONNX Runtime's CPU provider (the
reference): largest difference and the change in bits per character; then the engine's time
per new patch (notabridge.engine.decoder, patch caches kept on the device through I/O binding, every
patch forced to 16 characters) at each context. One table; exit 1 when parity fails, 2 when
the provider is missing. `--provider cpu` runs the same code on the CPU (to test the script).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# largest |log-prob difference| against fp32 on the CPU that still counts as parity
TOLERANCE = {"fp32": 2e-3, "fp16": 0.15}
MAX_DELTA_BITS = 0.01


def log_probs(bundle, ids: np.ndarray) -> np.ndarray:
    from notabridge.engine.scoring import bundle_logits_fn

    z = bundle_logits_fn(bundle)(ids)[:, :ids.shape[1]].astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def bits_per_char(lp: np.ndarray, ids: np.ndarray) -> float:
    targets = ids[1:]
    picked = np.take_along_axis(lp, targets[..., None], axis=-1)[..., 0]
    scored = targets != 0
    return float(-(picked * scored).sum() / scored.sum() / np.log(2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fp32", type=Path, required=True)
    ap.add_argument("--fp16", type=Path, required=True)
    ap.add_argument("--provider", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--contexts", type=int, nargs="+", default=[16, 256, 1024])
    ap.add_argument("--patches", type=int, default=8, help="new patches timed per context (minimum kept)")
    ap.add_argument("--parity-patches", type=int, default=256, help="patches of the piece compared")
    args = ap.parse_args()

    import onnxruntime as ort

    if args.provider == "cuda":
        if hasattr(ort, "preload_dlls"):   # CUDA and cuDNN from the nvidia-* wheels, when installed that way
            try:
                ort.preload_dlls()
            except Exception as exc:  # noqa: BLE001 - reported below if the provider is then unusable
                print(f"note: preload_dlls: {exc}", flush=True)
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            print(f"gpu_check: this onnxruntime ({ort.__version__}) has no CUDA provider: install onnxruntime-gpu",
                  file=sys.stderr)
            return 2

    from notabridge.engine.bundle import BundleError, load_bundle
    from notabridge.engine import Engine
    from notabridge.abc.patching import patches_to_ids
    from engine_speed import context_patches, engine_per_patch

    ids = patches_to_ids(["\x01" * 15 + "\x02"] + context_patches(args.parity_patches))
    reference = log_probs(load_bundle(args.fp32, "cpu"), ids)
    ref_bits = bits_per_char(reference, ids)
    rows, failed = [], []
    for precision, path in (("fp32", args.fp32), ("fp16", args.fp16)):
        try:
            engine = Engine(path, device=args.provider)
        except BundleError as exc:
            print(f"gpu_check: {exc}", file=sys.stderr)
            return 2
        if args.provider == "cuda" and engine.provider != "CUDAExecutionProvider":
            print(f"gpu_check: ONNX Runtime did not start its CUDA provider for {path} "
                  f"(got {engine.provider}): check the CUDA and cuDNN libraries", file=sys.stderr)
            return 2
        lp = log_probs(engine.bundle, ids)
        err = float(np.abs(lp - reference).max())
        delta = bits_per_char(lp, ids) - ref_bits
        ok = err <= TOLERANCE[precision] and abs(delta) <= MAX_DELTA_BITS
        if not ok:
            failed.append(precision)
        engine_per_patch(engine, 16, 3)   # warm-up: first-run allocations and kernel choices
        times = {}
        for ctx in args.contexts:
            t = time.perf_counter()
            times[ctx] = engine_per_patch(engine, ctx, args.patches)
            print(f"  {precision} context {ctx}: {times[ctx] * 1000:.1f} ms/patch "
                  f"({time.perf_counter() - t:.0f} s with prefill)", flush=True)
        rows.append((precision, engine.provider, err, delta, ok, times))

    print(f"\nreference: fp32 bundle on the CPU provider, {ref_bits:.4f} bits/char on {len(ids) - 1} patches")
    head = " ".join(f"{f'ctx {c} ms/patch':>16}" for c in args.contexts)
    print(f"{'bundle':6} {'provider':22} {'max |dlogp|':>11} {'d bits/char':>11} {'parity':>6} {head}")
    for precision, provider, err, delta, ok, times in rows:
        cells = " ".join(f"{times[c] * 1000:16.1f}" for c in args.contexts)
        print(f"{precision:6} {provider:22} {err:11.2e} {delta:+11.4f} {'ok' if ok else 'FAIL':>6} {cells}")
    if failed:
        print(f"gpu_check: parity failed for {', '.join(failed)} (tolerance {TOLERANCE}, bits/char {MAX_DELTA_BITS})",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
