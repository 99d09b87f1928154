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

import mmap
from dataclasses import dataclass

import numpy as np

from .bundle import CUDA, Bundle, cache_names, empty_cache


def zeros(shape: tuple, dtype) -> np.ndarray:
    """A zeroed array in its own anonymous memory map: pages cost memory once written, and all of
    it goes back to the OS when the array is freed. (np.zeros may take a cache buffer from the
    C heap, which glibc zeroes by writing every page and keeps after it is freed.)"""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size < mmap.PAGESIZE:
        return np.zeros(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, size), dtype=dtype).reshape(shape)


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
        import onnxruntime as ort

        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0;gpu:0" if self.cuda else "cpu:0")

    # -- caches -------------------------------------------------------------------------------
    def empty(self, level: str, batch: int) -> Cache:
        if level == "char":
            return empty_cache(self.bundle.config, level, batch)
        shape = (batch, self.heads, self.patch_length, self.head_dim)
        return self._patch_cache(0, tuple(zeros(shape, self.dtype) for _ in self.past["patch"]))

    def _patch_cache(self, length: int, host: tuple[np.ndarray, ...]) -> PatchCache:
        import onnxruntime as ort

        if self.cuda:
            return PatchCache(length, tuple(ort.OrtValue.ortvalue_from_numpy(b, "cuda", 0) for b in host))
        host = tuple(np.ascontiguousarray(b) for b in host)
        return PatchCache(length, host, tuple(ort.OrtValue.ortvalue_from_numpy(b) for b in host))

    def _host(self, cache: PatchCache) -> tuple[np.ndarray, ...]:
        return tuple(b.numpy() for b in cache.buffers) if self.cuda else cache.buffers

    # Copies write only the cached positions into fresh zeroed buffers (`zeros`): the OS maps a
    # zeroed page when it is first written, so a buffer of the whole context costs memory only
    # for the patches held so far (full copies made 4 variants of NotaGen-small hold 600 MB at once).
    def _copy(self, length: int, sources: list[tuple[tuple, list[int] | slice]]) -> PatchCache:
        """A new cache of `length` patches: the given rows of each source cache, stacked in order."""
        pieces = [[buffer[rows, :, :length] for buffer in host] for host, rows in sources]
        out = tuple(zeros((sum(p[i].shape[0] for p in pieces), *b.shape[1:]), b.dtype)
                    for i, b in enumerate(sources[0][0]))
        at = 0
        for piece in pieces:
            n = piece[0].shape[0]
            for dst, src in zip(out, piece):
                dst[at:at + n, :, :length] = src
            at += n
        return self._patch_cache(length, out)

    def take(self, cache: PatchCache, rows: list[int], length: int | None = None) -> PatchCache:
        """The cache of some batch rows, optionally cut to its first `length` patches (a copy of those)."""
        return self._copy(cache.length if length is None else length, [(self._host(cache), list(rows))])

    def concat(self, caches: list[PatchCache]) -> PatchCache:
        """Rows of caches of the same length, as one batch (a copy)."""
        return self._copy(caches[0].length, [(self._host(c), slice(None)) for c in caches])

    def repeat(self, cache: PatchCache, n: int) -> PatchCache:
        """n copies of a one-row cache, as one batch."""
        host = self._host(cache)
        return self._copy(cache.length, [(host, slice(None))] * n)

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
        # many patches at once (a context read in) grow ONNX Runtime's memory arena far beyond a
        # step's needs: give that back at the end of such a run
        self.bundle.patch_session.run_with_iobinding(binding, self._shrink if ids.shape[1] > 1 else None)
        cache.length += ids.shape[1]
        return binding.get_outputs()[0].numpy(), cache

    def char(self, chars: np.ndarray, patch_hidden: np.ndarray, cache: Cache) -> tuple[np.ndarray, Cache]:
        """chars [B, T], patch_hidden [B, d] -> logits [B, T, 128] (host), cache grown by T."""
        feeds = {"chars": np.ascontiguousarray(chars, dtype=np.int64),
                 "patch_hidden": np.ascontiguousarray(patch_hidden, dtype=self.dtype)}
        logits, *present = self.bundle.char_session.run(None, feeds | dict(zip(self.past["char"], cache)))
        return logits, tuple(present)
