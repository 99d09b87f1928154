"""One bar at a time for a live take, with the patch-level KV cache carried from bar to bar.

The live door (notabridge.daemon.live) asks for one bar at a time: `forward` writes the next bar
with every voice (its melody is the model's guess, never played), `echo` writes the
accompaniment under a melody bar that was just played. Between two calls the context grows by
one real line (the melody as played, the accompaniment as sounded), so almost all of the patch
decoder's work from the previous call still holds.

The carry needs no change to the Decoder or the BarWriter: `CarryRunner` wraps the Runner and
remembers the patches its last finished run fed (ids, per-position hidden states and the cache
holding them). When the decoder then prefills a context (a patch call on an empty cache), the
longest common prefix with what is remembered is copied out of the saved cache and only the
rest is run. A context that slid (the model's window full) shares at least the header patches.

`[r:i/j]` line prefixes stay fixed for the whole take (`LiveWriter`): j counts down from a
nominal take length instead of from the end of the context (which would move every bar, and
which would tell the model that each new bar ends the piece).
"""
from __future__ import annotations

import inspect
import threading
import time
from dataclasses import dataclass

import numpy as np

from notabridge.abc.bar_check import Segment, parse_line
from notabridge.abc.patching import split_piece
from notabridge.errors import JobError
from .decoder import Decoder
from .runtime import PatchCache, Runner
from .sampling import Sampler, Sampling
from .writer import BarWriter, header_problems

DEFAULT_TAKE_BARS = 64   # nominal take length for `[r:i/j]`: j never drops below 1 (no bar ends the piece)
_WRITER_TAKES = set(inspect.signature(BarWriter.__init__).parameters)


class CarryRunner:
    """A Runner that reuses the cache of the previous run's longest common prefix on prefill."""

    def __init__(self, runner: Runner) -> None:
        self.inner = runner
        self.patch_length = runner.patch_length
        self._history: dict[int, tuple[PatchCache, list[np.ndarray], list[np.ndarray]]] = {}
        self._last: PatchCache | None = None
        self._saved: tuple[PatchCache, np.ndarray, np.ndarray] | None = None   # cache, ids [L,16], hidden [L,d]
        self.reused = 0      # patches taken from the saved cache in the current run
        self.computed = 0    # patches run through the patch decoder in the current run
        self.prefill_seconds = 0.0   # time of the current run's prefills (carried or not)

    def __getattr__(self, name: str):   # empty, char, concat, repeat, length: as the Runner does them
        return getattr(self.inner, name)

    def begin(self) -> None:
        self._history.clear()
        self._last = None
        self.reused = self.computed = 0
        self.prefill_seconds = 0.0

    def keep_last(self) -> None:
        """Remember the cache the last patch call wrote (the finished row's whole context)."""
        if self._last is not None and id(self._last) in self._history:
            cache, ids, hidden = self._history[id(self._last)]
            self._saved = (cache, np.stack(ids), np.stack(hidden))
        self._history.clear()

    def forget(self) -> None:
        self._saved = None

    def take(self, cache: PatchCache, rows: list[int], length: int | None = None) -> PatchCache:
        out = self.inner.take(cache, rows, length)
        known = self._history.get(id(cache))
        if known is not None and rows == [0] and cache.buffers[0].shape[0] == 1:
            n = out.length
            self._history[id(out)] = (out, known[1][:n], known[2][:n])
        return out

    def patch(self, ids: np.ndarray, cache: PatchCache) -> tuple[np.ndarray, PatchCache]:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if ids.shape[0] != 1:   # batched rows (variants): no carry bookkeeping
            hidden, cache = self.inner.patch(ids, cache)
            self.computed += ids.shape[1]
            return hidden, cache
        if cache.length == 0:
            start = time.perf_counter()
            try:
                return self._prefill(ids, cache)
            finally:
                self.prefill_seconds += time.perf_counter() - start
        known = self._history.get(id(cache))
        hidden, cache = self.inner.patch(ids, cache)
        self.computed += ids.shape[1]
        if known is not None or cache.length == ids.shape[1]:
            before_ids, before_hidden = (known[1], known[2]) if known is not None else ([], [])
            self._history[id(cache)] = (cache, before_ids + list(ids[0]), before_hidden + list(hidden[0]))
        self._last = cache
        return hidden, cache

    def _prefill(self, ids: np.ndarray, empty: PatchCache) -> tuple[np.ndarray, PatchCache]:
        common = 0
        if self._saved is not None:
            saved_cache, saved_ids, saved_hidden = self._saved
            n = min(len(saved_ids), ids.shape[1])
            same = np.all(saved_ids[:n] == ids[0, :n], axis=1)
            common = int(n if same.all() else np.argmin(same))
        if common == 0:
            hidden, cache = self.inner.patch(ids, empty)
            self.computed += ids.shape[1]
            self._history[id(cache)] = (cache, list(ids[0]), list(hidden[0]))
            self._last = cache
            return hidden, cache
        cache = self.inner.take(saved_cache, [0], common)
        hidden = saved_hidden[:common][None]
        if common < ids.shape[1]:
            rest, cache = self.inner.patch(ids[:, common:], cache)
            hidden = np.concatenate([hidden, rest], axis=1)
        self.reused += common
        self.computed += ids.shape[1] - common
        self._history[id(cache)] = (cache, list(ids[0]), list(hidden[0]))
        self._last = cache
        return hidden, cache


class LiveWriter(BarWriter):
    """A BarWriter whose `[r:i/j]` prefixes count down from a fixed nominal take length."""

    def __init__(self, *, take_bars: int, **kwargs) -> None:
        self.take_bars = take_bars
        super().__init__(**kwargs)

    def _line_prefix(self, index: int) -> str:
        return f"[r:{index}/{max(1, self.take_bars - 1 - index)}]"


@dataclass
class LiveBar:
    line: str                  # the bar, every voice, no `[r:]` prefix
    seconds: float             # wall time of the engine
    reused_patches: int        # context patches taken from the carried cache
    computed_patches: int      # patches the patch decoder ran (context not carried + the new bar)
    rejected: int              # invalid tries thrown away before this bar
    prefill_seconds: float = 0.0   # of `seconds`: reading the context (what the carry saves)


class LiveSession:
    """The engine side of a live take: a fixed header, a growing list of real lines."""

    def __init__(self, engine, header: str, take_bars: int = DEFAULT_TAKE_BARS, carry: bool = True,
                 max_tries: int = 8) -> None:
        piece = split_piece(header)
        if piece.body:
            raise JobError("the live header must hold no bars")
        problems = header_problems(piece.header)
        if problems:
            raise JobError("the live header cannot be used: " + "; ".join(problems))
        self.engine = engine
        self.header = piece.header
        self.take_bars = take_bars
        self.max_tries = max_tries
        self.carry = carry
        self.runner = CarryRunner(engine.runner)
        self._lock = threading.Lock()   # one bar at a time: the carried cache belongs to one run

    def write_bar(self, lines: list[str], melody: Segment | None = None, sampling: Sampling = Sampling(),
                  cancel: threading.Event | None = None) -> LiveBar:
        """The bar after body `lines` (no `[r:]` prefixes). `melody`: the first voice's segment to
        keep (echo: the bar just played); None: every voice is written (forward: the melody is a
        guess). Raises Cancelled when `cancel` is set, JobError when no valid bar came."""
        try:
            sampler = Sampler(sampling)
        except ValueError as exc:
            raise JobError(str(exc)) from None
        voices = [line.split()[0][2:] for line in self.header if line.startswith("V:") and line.split()]
        given = [[melody]] if melody is not None else [[]]
        write = [v for v in voices if melody is None or v != melody.voice]
        extra = {"write_voices": write} if "write_voices" in _WRITER_TAKES else {}
        writer = LiveWriter(take_bars=self.take_bars, prompt=[], header=self.header, prefix_body=list(lines),
                            bars=1, given=given, max_tries=self.max_tries, **extra)
        with self._lock:
            if not self.carry:
                self.runner.forget()
            self.runner.begin()
            start = time.perf_counter()
            try:
                Decoder(self.runner, sampler).run([writer], cancel)
            finally:
                self.runner.keep_last()
            seconds = time.perf_counter() - start
        return LiveBar(writer.new_bars[0], seconds, self.runner.reused, self.runner.computed, writer.rejects,
                       self.runner.prefill_seconds)


def melody_segment(voice: str, content: str, barline: str = "|") -> Segment:
    """The first voice's bar as the writer takes a given voice (echo mode)."""
    _, segments = parse_line(f"[V:{voice}]{content}{barline}")
    if len(segments) != 1:
        raise JobError(f"not one voice's bar: {content!r}")
    return segments[0]
