"""One step of each graph of a bundle, with its per-layer KV caches kept where the provider runs.

Patch level (docs/bundle.md, format 3): each layer's keys and values live in a buffer of the
model's full context ([batch, heads, patch_length, 64]) that the graph updates in place: the
present output is bound to the past input's OrtValue (I/O binding), so a step writes the new
position and reads the cached ones, never copying the cache (ORT's GroupQueryAttention). On the
CPU provider the buffers are numpy arrays the OrtValues wrap; on CUDA they stay on the GPU.
Only the patch hidden state ([B, d]) and the char logits ([B, T, 128]) come back to the host.
Char level: plain numpy caches (at most 17 positions), one array per layer and kind in graph
order (key 0, value 0, key 1, ...), each [batch, heads, length, 64], grown by each step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bundle import CUDA, Bundle, cache_names, empty_cache


@dataclass
class PatchCache:
    """`length` cached patches in per-layer buffers (graph order); positions past `length` are stale."""
    length: int
    buffers: tuple          # numpy arrays on the CPU provider, OrtValues on CUDA
    bound: tuple = ()       # OrtValues over the numpy buffers (CPU), made once


Cache = PatchCache | tuple   # tuple: a char-level cache (numpy arrays)


class Runner:
    def __init__(self, bundle: Bundle):
        cfg = bundle.config
        self.bundle = bundle
        self.cuda = bundle.provider == CUDA
        self.dtype = bundle.dtype
        self.heads, self.head_dim = cfg["num_heads"], cfg["head_dim"]
        self.layers = {"patch": cfg["patch_num_layers"], "char": cfg["char_num_layers"]}
        self.past = {level: cache_names("past", n) for level, n in self.layers.items()}
        self.present = {level: cache_names("present", n) for level, n in self.layers.items()}
        self.patch_length = cfg["patch_length"]
        self.hidden_size = cfg["hidden_size"]

    # -- caches -------------------------------------------------------------------------------
    def empty(self, level: str, batch: int) -> Cache:
        if level == "char":
            return empty_cache(self.bundle.config, level, batch)
        shape = (batch, self.heads, self.patch_length, self.head_dim)
        return self._patch_cache(0, tuple(np.zeros(shape, self.dtype) for _ in self.past["patch"]))

    def _patch_cache(self, length: int, host: tuple[np.ndarray, ...]) -> PatchCache:
        import onnxruntime as ort

        if self.cuda:
            return PatchCache(length, tuple(ort.OrtValue.ortvalue_from_numpy(b, "cuda", 0) for b in host))
        host = tuple(np.ascontiguousarray(b) for b in host)
        return PatchCache(length, host, tuple(ort.OrtValue.ortvalue_from_numpy(b) for b in host))

    def _host(self, cache: PatchCache) -> tuple[np.ndarray, ...]:
        return tuple(b.numpy() for b in cache.buffers) if self.cuda else cache.buffers

    @staticmethod
    def length(cache: PatchCache) -> int:
        return cache.length

    def take(self, cache: PatchCache, rows: list[int], length: int | None = None) -> PatchCache:
        """The cache of some batch rows, optionally cut to its first `length` patches (a copy of those)."""
        length = cache.length if length is None else length
        out = []
        for b in self._host(cache):
            part = np.zeros((len(rows), *b.shape[1:]), b.dtype)
            part[:, :, :length] = b[rows, :, :length]
            out.append(part)
        return self._patch_cache(length, tuple(out))

    def concat(self, caches: list[PatchCache]) -> PatchCache:
        """Rows of caches of the same length, as one batch (a copy)."""
        hosts = [self._host(c) for c in caches]
        return self._patch_cache(caches[0].length, tuple(np.concatenate(parts, axis=0) for parts in zip(*hosts)))

    def repeat(self, cache: PatchCache, n: int) -> PatchCache:
        return self._patch_cache(cache.length, tuple(np.repeat(b, n, axis=0) for b in self._host(cache)))

    # -- steps --------------------------------------------------------------------------------
    def patch(self, ids: np.ndarray, cache: PatchCache) -> tuple[np.ndarray, PatchCache]:
        """ids [B, T, 16] -> hidden [B, T, d] (host); `cache` is updated in place and grown by T.

        T > 1 on a non-empty cache needs batch 1 (ORT's GroupQueryAttention on the CPU)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if cache.length + ids.shape[1] > self.patch_length:
            raise ValueError(f"{cache.length} + {ids.shape[1]} patches do not fit the model's {self.patch_length}")
        binding = self.bundle.patch_session.io_binding()
        binding.bind_output("hidden", "cpu")  # first: get_outputs() keeps the binding order
        binding.bind_cpu_input("patches", ids)
        binding.bind_cpu_input("past_length", np.array(cache.length, dtype=np.int64))
        values = cache.buffers if self.cuda else cache.bound
        for past, present, value in zip(self.past["patch"], self.present["patch"], values):
            binding.bind_ortvalue_input(past, value)
            binding.bind_ortvalue_output(present, value)  # the same buffer: written in place
        self.bundle.patch_session.run_with_iobinding(binding)
        cache.length += ids.shape[1]
        return binding.get_outputs()[0].numpy(), cache

    def char(self, chars: np.ndarray, patch_hidden: np.ndarray, cache: Cache) -> tuple[np.ndarray, Cache]:
        """chars [B, T], patch_hidden [B, d] -> logits [B, T, 128] (host), cache grown by T."""
        feeds = {"chars": np.ascontiguousarray(chars, dtype=np.int64),
                 "patch_hidden": np.ascontiguousarray(patch_hidden, dtype=self.dtype)}
        logits, *present = self.bundle.char_session.run(None, feeds | dict(zip(self.past["char"], cache)))
        return logits, tuple(present)
