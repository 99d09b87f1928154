"""One step of each graph of a bundle, with its per-layer KV cache kept where the provider runs.

Patch-decoder caches go through I/O binding and stay OrtValues between steps: on the CUDA
provider they stay on the GPU; on the CPU provider this saves converting the whole present
cache to new numpy arrays every patch (measured: 0.1 s a patch at 2,000 patches of context
for NotaGen-small). Only the patch hidden state ([B, d]) and the char logits ([B, T, 128])
come back to the host as numpy. The char decoder's caches (at most 16 positions) are plain
numpy on the CPU.
Cache = one array per layer and kind in graph order (key 0, value 0, key 1, ...), each
[batch, heads, length, 64] (docs/bundle.md).
"""
from __future__ import annotations

import numpy as np

from .bundle import CUDA, Bundle, cache_names, empty_cache

Cache = tuple  # numpy arrays, or OrtValues (I/O binding)


class Runner:
    def __init__(self, bundle: Bundle):
        cfg = bundle.config
        self.bundle = bundle
        self.cuda = bundle.provider == CUDA
        self.dtype = bundle.dtype
        self.layers = {"patch": cfg["patch_num_layers"], "char": cfg["char_num_layers"]}
        self.past = {level: cache_names("past", n) for level, n in self.layers.items()}
        self.present = {level: cache_names("present", n) for level, n in self.layers.items()}
        self.patch_length = cfg["patch_length"]
        self.hidden_size = cfg["hidden_size"]

    # -- caches -------------------------------------------------------------------------------
    def empty(self, level: str, batch: int) -> Cache:
        return empty_cache(self.bundle.config, level, batch)

    def to_host(self, cache: Cache) -> tuple[np.ndarray, ...]:
        return tuple(c if isinstance(c, np.ndarray) else c.numpy() for c in cache)

    def to_device(self, cache: tuple[np.ndarray, ...]) -> Cache:
        if not self.cuda:
            return cache
        import onnxruntime as ort

        return tuple(ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(c), "cuda", 0) for c in cache)

    @staticmethod
    def length(cache: Cache) -> int:
        k = cache[0]
        return int(k.shape[2] if isinstance(k, np.ndarray) else k.shape()[2])

    def take(self, cache: Cache, rows: list[int], length: int | None = None) -> Cache:
        """The cache of some batch rows, optionally cut to its first `length` positions (a copy)."""
        cut = slice(None) if length is None else slice(0, length)
        return self.to_device(tuple(np.ascontiguousarray(c[rows, :, cut]) for c in self.to_host(cache)))

    def concat(self, caches: list[Cache]) -> Cache:
        hosts = [self.to_host(c) for c in caches]
        return self.to_device(tuple(np.concatenate(parts, axis=0) for parts in zip(*hosts)))

    def repeat(self, cache: Cache, n: int) -> Cache:
        return self.to_device(tuple(np.repeat(c, n, axis=0) for c in self.to_host(cache)))

    # -- steps --------------------------------------------------------------------------------
    def patch(self, ids: np.ndarray, cache: Cache) -> tuple[np.ndarray, Cache]:
        """ids [B, T, 16] -> hidden [B, T, d] (host), cache grown by T."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        (hidden,), present = self._run_bound(self.bundle.patch_session, "patch", {"patches": ids}, cache, ["hidden"])
        return hidden, present

    def char(self, chars: np.ndarray, patch_hidden: np.ndarray, cache: Cache) -> tuple[np.ndarray, Cache]:
        """chars [B, T], patch_hidden [B, d] -> logits [B, T, 128] (host), cache grown by T."""
        feeds = {"chars": np.ascontiguousarray(chars, dtype=np.int64),
                 "patch_hidden": np.ascontiguousarray(patch_hidden, dtype=self.dtype)}
        if self.cuda:
            (logits,), present = self._run_bound(self.bundle.char_session, "char", feeds, cache, ["logits"])
            return logits, present
        logits, *present = self.bundle.char_session.run(None, feeds | dict(zip(self.past["char"], cache)))
        return logits, tuple(present)

    def _run_bound(self, session, level: str, feeds: dict, cache: Cache, host_outputs: list[str]):
        """Inputs bound where they are, present caches left on the device as OrtValues, the rest to the host."""
        binding = session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        for name, value in zip(self.past[level], cache):
            if isinstance(value, np.ndarray):
                binding.bind_cpu_input(name, value)
            else:
                binding.bind_ortvalue_input(name, value)
        for name in host_outputs:
            binding.bind_output(name, "cpu")
        device = "cuda" if self.cuda else "cpu"
        for name in self.present[level]:
            binding.bind_output(name, device, 0)
        session.run_with_iobinding(binding)
        outs = binding.get_outputs()
        host = [o.numpy() for o in outs[:len(host_outputs)]]
        return host, tuple(outs[len(host_outputs):])
