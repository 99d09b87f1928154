"""The generation engine on ABC text: generate, continue, infill and accompany, with variants.

Loads a model bundle once (notabridge.engine.bundle), decodes with KV caches at both levels
(notabridge.engine.decoder), writes bar by bar with valid bars only (notabridge.engine.writer, notabridge.abc.bar_check), samples
with notabridge.engine.sampling. Progress is reported after every bar; a set cancel event stops the job
within one patch (so within one bar).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from notabridge.abc.bar_check import header_context, parse_line
from .bundle import Bundle, load_bundle
from .decoder import Decoder, DecodeStats
from notabridge.errors import JobError
from notabridge.engine.memory import release_free_memory
from notabridge.abc.patching import SplitPiece, split_piece
from .runtime import Runner
from .sampling import Sampler, Sampling
from notabridge.engine.speculative import SpeculativeStats, Speculator
from notabridge.abc.voice_ranges import voice_ranges
from .writer import BarWriter, header_problems, sounding_voices

# progress(variant, bars_done, partial_abc)
BarCallback = Callable[[int, int, str], None]


@dataclass
class Variant:
    header: str                 # prompt and header lines
    bars: list[str]             # the new bars, one line each, every voice present, no `[r:]`
    abc: str                    # the whole piece: header, given bars, new bars
    valid_first_try: float      # share of the new bars valid on the first try
    rejected_bars: int = 0      # bars (or headers) thrown away as invalid
    complete: bool = True       # False: it stopped before all its bars (`warning` says why)
    warning: str | None = None
    log_likelihood: float | None = None  # infill: log-likelihood of the real bars after the new ones
    bits_per_char: float | None = None   # the model's surprise at the characters it sampled in the new bars


class Variants(list):
    """What a mode returns: the variants written (a list of Variant), and `gave_up`, why each
    variant that wrote no bar gave up (those are left out; the run raised if all did)."""

    def __init__(self, variants: Iterable[Variant] = (), gave_up: Iterable[str] = ()):
        super().__init__(variants)
        self.gave_up = list(gave_up)


@dataclass
class RunInfo:
    seconds: float = 0.0
    stats: DecodeStats = field(default_factory=DecodeStats)
    speculative: SpeculativeStats | None = None   # when the bundle's draft table was used


class Engine:
    def __init__(self, bundle: str | Path | Bundle | None = None, device: str = "auto", threads: int | None = None,
                 runner=None, speculative: bool = True):
        """`runner`: something that steps the model (notabridge.engine.runtime.Runner's interface) to use
        instead of the bundle's ONNX graphs (tests drive the writer with a stand-in model).
        `speculative`: draft characters with the bundle's n-gram table, when it ships one
        (notabridge.engine.speculative: the same distribution, fewer char-decoder calls;
        docs/engine_speed.md has the measures)."""
        if runner is not None:
            self.bundle, self.runner, self.provider, self.config, self.info = None, runner, "stand-in", {}, {}
        else:
            self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle, device, threads=threads)
            self.runner = Runner(self.bundle)
            self.provider, self.config, self.info = self.bundle.provider, self.bundle.config, self.bundle.info
        self.speculative = speculative and self.bundle is not None and self.bundle.draft is not None
        self.last_run = RunInfo()
        release_free_memory()   # what reading the graphs freed

    # -- modes --------------------------------------------------------------------------------
    def generate(self, prompt_lines: list[str], bars: int, sampling: Sampling = Sampling(), variants: int = 1,
                 meter: str | None = None, key: str | None = None, progress: BarCallback | None = None,
                 cancel: threading.Event | None = None, max_tries: int = 8, every_voice: bool = True) -> Variants:
        """A new piece from NotaGen's `%` prompt lines: the model writes the header, then `bars` bars
        (the first may be a pickup). `meter` ("3/4") and `key` ("G", "Bbm") force the M:/K: lines.
        `every_voice`: every voice the header declares is written in every bar (else the model
        leaves out the voices it rests, as in training)."""
        forced = {}
        if meter:
            forced["M:"] = f"M:{meter}\n"
        if key:
            forced["K:"] = f"K:{key}\n"
        writers = [BarWriter(prompt=list(prompt_lines), header=None, prefix_body=[], bars=bars, forced_header=forced,
                             pickup_ok=True, max_tries=max_tries, header_voices=every_voice,
                             part_names=self.info.get("part_names") or None, on_bar=self._bar_callback(progress, v))
                   for v in range(variants)]
        return self._run(writers, sampling, cancel)

    def continue_(self, abc: str | SplitPiece, bars: int, sampling: Sampling = Sampling(), variants: int = 1,
                  progress: BarCallback | None = None, cancel: threading.Event | None = None,
                  max_tries: int = 8, range_rule: bool = True, every_voice: bool = True) -> Variants:
        """`bars` new bars after interleaved ABC `abc`, keeping its voices, key and meter.
        `every_voice`: every voice that sounds in `abc` is written in every new bar (else the model
        leaves out the voices it rests, as in training). `range_rule`: no note outside each
        voice's range (notabridge.abc.voice_ranges)."""
        header, body = self._split(abc)
        ranges = voice_ranges(header, body) if range_rule else None
        writers = [BarWriter(prompt=[], header=header, prefix_body=body, bars=bars, keep_meter_and_key=True,
                             max_tries=max_tries, ranges=ranges, on_bar=self._bar_callback(progress, v),
                             write_voices=sounding_voices(header, body) if every_voice else [])
                   for v in range(variants)]
        return self._run(writers, sampling, cancel)

    def infill(self, abc: str | SplitPiece, gap_bars: int, after: list[str], sampling: Sampling = Sampling(), variants: int = 1,
               candidates: int | None = None, given_bars: list[str] | None = None,
               progress: BarCallback | None = None, cancel: threading.Event | None = None,
               max_tries: int = 8, range_rule: bool = True, every_voice: bool = True) -> Variants:
        """New bars for a gap of `gap_bars` after `abc`, leading into the body lines `after`.

        `candidates` (default 2 x variants) are generated from the prefix and ranked by the
        model's log-likelihood of the real bars after each; the best `variants` come back.
        `given_bars`: voices of the gap that stay (forced, as in accompany). `every_voice`,
        `range_rule`: as in continue_ (with given bars, every voice to write is written)."""
        header, body = self._split(abc)
        given = self._given(header, given_bars) if given_bars is not None else None
        if given is not None and len(given) != gap_bars:
            raise JobError(f"{len(given)} given bars for a gap of {gap_bars}")
        n = max(variants, candidates or 2 * variants)
        ranges = voice_ranges(header, body + list(after) + list(given_bars or [])) if range_rule else None
        writers = [BarWriter(prompt=[], header=header, prefix_body=body, bars=gap_bars, suffix_body=after, given=given,
                             keep_meter_and_key=True, max_tries=max_tries, ranges=ranges,
                             write_voices=self._to_write(header, body, given) if every_voice else [],
                             on_bar=self._bar_callback(progress, v))
                   for v in range(n)]
        results = self._run(writers, sampling, cancel)
        ranked = sorted(results, key=lambda r: r.log_likelihood if r.log_likelihood is not None else float("-inf"),
                        reverse=True)
        return Variants(ranked[:variants], results.gave_up)

    def accompany(self, abc: str | SplitPiece, given_bars: list[str], sampling: Sampling = Sampling(), variants: int = 1,
                  progress: BarCallback | None = None, cancel: threading.Event | None = None,
                  max_tries: int = 8, range_rule: bool = True, every_voice: bool = True) -> Variants:
        """New bars for the voices missing from `given_bars` (body lines holding only the given
        voices, e.g. `[V:1]abc|`), after the context `abc`: given voices are forced character
        by character, the others sampled, bar by bar. `every_voice`: each voice to write is
        written in every bar (else the model may rest it, as in training)."""
        header, body = self._split(abc)
        given = self._given(header, given_bars)
        ranges = voice_ranges(header, body + list(given_bars)) if range_rule else None
        writers = [BarWriter(prompt=[], header=header, prefix_body=body, bars=len(given_bars), given=given,
                             max_tries=max_tries, ranges=ranges, on_bar=self._bar_callback(progress, v),
                             write_voices=self._to_write(header, body, given) if every_voice else [])
                   for v in range(variants)]
        return self._run(writers, sampling, cancel)

    # -- internals ----------------------------------------------------------------------------
    @staticmethod
    def _split(abc: str | SplitPiece) -> tuple[list[str], list[str]]:
        """Header and body lines of the context (text, or already split by the caller: compose
        hands its lines over as they are, so the text is never joined only to be cut again)."""
        text = abc if isinstance(abc, str) else "".join(abc.header + abc.body)
        try:
            text.encode("ascii")
        except UnicodeEncodeError:
            bad = next(c for c in text if ord(c) > 127)
            raise JobError(f"the ABC holds {bad!r}, which is not ASCII: NotaGen models read 7-bit ABC only") from None
        piece = split_piece(abc) if isinstance(abc, str) else abc
        problems = header_problems(piece.header)
        if problems:
            raise JobError("the given ABC cannot be continued: " + "; ".join(problems))
        return piece.header, piece.body

    @staticmethod
    def _to_write(header: list[str], body: list[str], given: list | None) -> list[str]:
        """The voices each new bar must hold: without given voices, those that sound in the
        user's bars; with them, every voice that is not given."""
        if given is None:
            return sounding_voices(header, body)
        kept = {s.voice for segs in given for s in segs}
        return [v for v in header_context(header).voices if v not in kept]

    @staticmethod
    def _given(header: list[str], given_bars: list[str]) -> list:
        given = [parse_line(line)[1] for line in given_bars]
        if not given or any(not segs for segs in given):
            raise JobError("every given bar must hold at least one voice (`[V:n]...|`)")
        declared = {line.split()[0][2:] for line in header if line.startswith("V:") and line.split()}
        unknown = {s.voice for segs in given for s in segs} - declared
        if unknown:
            raise JobError(f"given voices {', '.join(sorted(unknown))} are not declared in the header")
        if all({s.voice for s in segs} >= declared for segs in given):
            raise JobError("every voice is given: leave at least one voice for the model to write")
        return given

    @staticmethod
    def _bar_callback(progress: BarCallback | None, variant: int):
        if progress is None:
            return None
        return lambda done, partial: progress(variant, done, partial)

    def _run(self, writers: list[BarWriter], sampling: Sampling, cancel: threading.Event | None) -> Variants:
        if not writers:
            raise JobError("ask for at least one variant")
        if any(w.bars < 1 for w in writers):
            raise JobError("ask for at least one bar")
        try:
            sampler = Sampler(sampling)
        except ValueError as exc:
            raise JobError(str(exc)) from None
        start = time.perf_counter()
        speculator = Speculator(self.bundle.draft) if self.speculative else None
        decoder = Decoder(self.runner, sampler, speculator)
        try:
            stats = decoder.run(writers, cancel)
        finally:
            del decoder        # its caches; then hand the freed pages back (a daemon idles between jobs)
            release_free_memory()
        self.last_run = RunInfo(time.perf_counter() - start, stats, speculator.stats if speculator else None)
        # variants that wrote no bar are left out (the run raised if all did), `gave_up` says why;
        # a variant that stopped early keeps its bars and says why in `warning`
        written = [Variant(header=w.header_text(), bars=list(w.new_bars), abc=w.abc(), valid_first_try=w.valid_first_try,
                           rejected_bars=w.rejects, complete=w.stopped is None,
                           warning=None if w.stopped is None else
                           f"stopped after {len(w.new_bars)} of {w.bars} bars: {w.stopped}",
                           log_likelihood=None if w.suffix_nats is None else -w.suffix_nats,
                           bits_per_char=w.bits_per_char)
                   for row, w in enumerate(writers) if row not in stats.failures]
        return Variants(written, gave_up=[str(exc) for exc in stats.failures.values()])
