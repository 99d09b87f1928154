"""Export a randomly initialised NotaGen-X-shaped checkpoint and time its bundle on CPU.

Proves the real NotaGen-X weights (20 patch layers, 6 char layers, d 1280, 516 M parameters)
go through `notabridge export` and load in ONNX Runtime. Prints export time, bundle size and
the time of one patch step and one char step with KV caches, with two baselines measured in the
same run: the same steps in PyTorch eager, and NotaGen's reference way of getting the next
patch's hidden state (re-running the patch decoder over every patch so far, no cache).

    nice -n 10 python bench/notagen_x_export.py [--work DIR] [--past 256] [--repeats 5] [--threads N]
    python bench/notagen_x_export.py --work DIR --reuse   # time the bundle already in DIR again

Needs ~10 GB of RAM and ~5 GB of disk; takes a few minutes on two cores.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notabridge.engine.bundle import cache_names, load_bundle  # noqa: E402
from notabridge.onnx_export.checkpoint import load_model  # noqa: E402
from notabridge.onnx_export.export import export_bundle  # noqa: E402
from notabridge.onnx_export.model import ModelSizes, NotaGenModel, count_parameters  # noqa: E402

NOTAGEN_X = ModelSizes(hidden_size=1280, patch_num_layers=20, char_num_layers=6, patch_length=1024)


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", help="folder for the checkpoint and bundle (default: a temporary folder)")
    parser.add_argument("--past", type=int, default=256, help="patches already in the patch cache")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="threads for ONNX Runtime and torch (default: physical cores)")
    parser.add_argument("--reuse", action="store_true", help="skip the export: time the checkpoint and bundle in --work")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        checkpoint, bundle_dir = work / "notagen-x-random.pth", work / "notagen-x-random"
        if args.reuse:
            model, export_s = load_model(checkpoint), None
        else:
            model = NotaGenModel(NOTAGEN_X).eval()
            torch.save({"model": model.state_dict(), "optimizer": {}, "epoch": 0}, checkpoint)
            start = time.perf_counter()
            export_bundle(checkpoint, bundle_dir, name="notagen-x-random")
            export_s = time.perf_counter() - start
        params = count_parameters(model.state_dict())
        print(f"checkpoint: {params:,} parameters, {checkpoint.stat().st_size / 2**30:.2f} GiB")
        files = {p.name: p.stat().st_size for p in sorted(bundle_dir.iterdir())}
        print(f"export: {export_s or 0:.1f} s; bundle files: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in files.items()))

        start = time.perf_counter()
        bundle = load_bundle(bundle_dir, device="cpu", threads=args.threads)
        if args.threads:
            torch.set_num_threads(args.threads)
        load_s = time.perf_counter() - start
        print(f"ORT load (with sha256 checks): {load_s:.1f} s, provider {bundle.provider}")

        results = measure(model, bundle, args.past, args.repeats)
        summary = {"parameters": params, "export_s": export_s, "load_s": load_s, "bundle_bytes": sum(files.values()),
                   "files": files, "past_patches": args.past, "threads": args.threads, **results}
        print(json.dumps(summary, indent=2))


def measure(model: NotaGenModel, bundle, past: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    sizes = model.sizes
    heads, d = sizes.num_heads, sizes.hidden_size
    history = rng.integers(3, 128, (1, past + 1, sizes.patch_size))
    patch_cache = rng.standard_normal((sizes.patch_num_layers, 1, heads, past, 64)).astype(np.float32)
    char_cache = rng.standard_normal((sizes.char_num_layers, 1, heads, 8, 64)).astype(np.float32)
    hidden = rng.standard_normal((1, d)).astype(np.float32)
    new_patch = history[:, -1:]
    # the bundle's caches are per layer (docs/bundle.md); keys and values share the random data here.
    # The patch graph's are buffers with room for the new patch, `past` positions cached.
    buffers = np.concatenate([patch_cache, np.zeros_like(patch_cache[:, :, :, :1])], axis=3)
    patch_feeds = dict(zip(cache_names("past", sizes.patch_num_layers), (c for c in buffers for _ in "kv")))
    patch_feeds["past_length"] = np.array(past, dtype=np.int64)
    char_feeds = dict(zip(cache_names("past", sizes.char_num_layers), (c for c in char_cache for _ in "kv")))

    def ort_patch():
        bundle.patch_session.run(None, {"patches": new_patch} | patch_feeds)

    def ort_char():
        bundle.char_session.run(None, {"chars": np.array([[65]]), "patch_hidden": hidden} | char_feeds)

    pk, pc = torch.from_numpy(patch_cache), torch.from_numpy(char_cache)
    tp, th = torch.from_numpy(new_patch), torch.from_numpy(hidden)
    full = torch.from_numpy(history)
    empty_k, empty_v = model.empty_cache("patch", 1)

    def torch_patch():
        with torch.inference_mode():
            model.patch_level_decoder(tp, pk, pk)

    def torch_char():
        with torch.inference_mode():
            model.char_level_decoder(torch.tensor([[65]]), th, pc, pc)

    def torch_patch_no_cache():  # NotaGen's reference: every patch so far, every time
        with torch.inference_mode():
            model.patch_level_decoder(full, empty_k, empty_v)

    out = {
        "ort_patch_step_s": timed(ort_patch, repeats),
        "ort_char_step_s": timed(ort_char, repeats * 4),
        "torch_patch_step_s": timed(torch_patch, repeats),
        "torch_char_step_s": timed(torch_char, repeats * 4),
        "torch_patch_no_cache_s": timed(torch_patch_no_cache, max(2, repeats // 2)),
    }
    print(f"patch step ({past} cached patches): ORT {out['ort_patch_step_s'] * 1e3:.1f} ms, "
          f"torch {out['torch_patch_step_s'] * 1e3:.1f} ms (x{out['torch_patch_step_s'] / out['ort_patch_step_s']:.2f}), "
          f"torch without cache {out['torch_patch_no_cache_s'] * 1e3:.1f} ms "
          f"(x{out['torch_patch_no_cache_s'] / out['ort_patch_step_s']:.1f})")
    print(f"char step (8 cached positions): ORT {out['ort_char_step_s'] * 1e3:.2f} ms, "
          f"torch {out['torch_char_step_s'] * 1e3:.2f} ms (x{out['torch_char_step_s'] / out['ort_char_step_s']:.2f})")
    return out


if __name__ == "__main__":
    main()
