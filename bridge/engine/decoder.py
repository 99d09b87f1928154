"""Two-level KV-cached decoding of several rows (variants) at once.

Each row is driven by a writer (notabridge.engine.writer.BarWriter) that decides which characters are
forced, which are banned, and what happens when a patch is complete (go on, roll back the
last k patches to resample a bar, or stop). A new patch costs one patch-decoder step and at
most 16 char-decoder steps, whatever the length of the piece.

The graphs have no attention mask, so rows decoded in one batch must hold the same number of
patches. Rows live in groups of equal length; the shortest group steps first, so a row that
rolled back (or slid its context) catches up alone and then merges back into the batch.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from notabridge.errors import Cancelled, JobError
from notabridge.abc.patching import EOS_ID, PATCH_SIZE, patches_to_ids
from .runtime import Cache, Runner
from .sampling import Sampler, constraint_masks

VOCAB = 128
DONE = -1


class RowWriter(Protocol):
    def context(self, limit: int, at_most: int | None = None) -> list[str]: ...
    def forced_patch(self) -> str | None: ...
    def constraint(self, patch_text: str) -> tuple[str | None, "str | np.ndarray"]: ...
    # optional: probe(patch_text) -> an object with constraint() and advance(c) that answers
    # without changing the writer (speculative decoding; needed when constraint() keeps state)
    def on_patch(self, patch_text: str, ended_by_eos: bool) -> int | None: ...


@dataclass
class _Group:
    rows: list[int]
    cache: Cache
    length: int


@dataclass
class DecodeStats:
    patch_steps: int = 0
    char_steps: int = 0
    slides: int = 0
    patches_per_row: list[int] = field(default_factory=list)
    failures: dict[int, Exception] = field(default_factory=dict)  # row -> why it gave up


class Decoder:
    def __init__(self, runner: Runner, sampler: Sampler, speculative=None):
        self.runner = runner
        self.sampler = sampler
        self.speculative = speculative  # a notabridge.engine.speculative.Speculator, or None: one char per call
        self.patch_length = runner.patch_length
        self.stats = DecodeStats()

    # -- public -------------------------------------------------------------------------------
    def run(self, writers: list, cancel: threading.Event | None = None) -> DecodeStats:
        """Decode until every writer says it is done. Raises Cancelled when `cancel` is set."""
        self.writers = writers
        self.hiddens: list[list[np.ndarray]] = [[] for _ in writers]
        self.stats.patches_per_row = [0] * len(writers)
        groups = self._prefill(list(range(len(writers))))
        while groups:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            group = min(groups, key=lambda g: g.length)
            groups.remove(group)
            if group.length >= self.patch_length:
                for row in group.rows:  # context full: each row keeps its header and latest bars
                    self.stats.slides += 1
                    groups.extend(self._prefill([row], slide=True))
                continue
            groups.extend(self._step(group))
            groups = self._merge(groups)
        if self.stats.failures and len(self.stats.failures) == len(writers):
            raise self.stats.failures[min(self.stats.failures)]
        return self.stats

    # -- internals ----------------------------------------------------------------------------
    def _prefill(self, rows: list[int], slide: bool = False) -> list[_Group]:
        """Run the patch decoder over each row's context; rows with the same context share one run."""
        limit = self.patch_length - 1
        contexts = [self.writers[r].context(self.patch_length // 2, at_most=limit) if slide else
                    self.writers[r].context(limit) for r in rows]
        groups = []
        by_text: dict[tuple, list[int]] = {}
        for row, ctx in zip(rows, contexts):
            by_text.setdefault(tuple(ctx), []).append(row)
        for ctx, same in by_text.items():
            if len(ctx) > limit:
                raise ValueError(f"context of {len(ctx)} patches does not fit the model's {self.patch_length}")
            hidden, cache = self.runner.patch(patches_to_ids(list(ctx))[None], self.runner.empty("patch", 1))
            self.stats.patch_steps += 1
            states = list(hidden[0])
            for row in same:
                self.hiddens[row] = list(states)
            cache = self.runner.repeat(cache, len(same)) if len(same) > 1 else cache
            groups.append(_Group(same, cache, len(ctx)))
        return groups

    def _merge(self, groups: list[_Group]) -> list[_Group]:
        by_length: dict[int, list[_Group]] = {}
        for g in groups:
            by_length.setdefault(g.length, []).append(g)
        merged = []
        for length, same in by_length.items():
            if len(same) == 1:
                merged.append(same[0])
            else:
                merged.append(_Group([r for g in same for r in g.rows],
                                     self.runner.concat([g.cache for g in same]), length))
        return merged

    def _step(self, group: _Group) -> list[_Group]:
        texts, eos, surprise = self._decode_patches(group.rows)
        full = [t + (chr(EOS_ID) if e else "") for t, e in zip(texts, eos)]  # as NotaGen's patches carry it
        hidden, group.cache = self.runner.patch(patches_to_ids(full)[:, None, :], group.cache)
        group.length += 1
        self.stats.patch_steps += 1
        keep, out = [], []
        for i, row in enumerate(group.rows):
            self.hiddens[row].append(hidden[i, 0])
            self.stats.patches_per_row[row] += 1
            sampled = getattr(self.writers[row], "sampled", None)
            if sampled is not None:
                sampled(*surprise[i])
            try:
                action = self.writers[row].on_patch(texts[i], eos[i])
            except JobError as exc:  # this variant gave up; the others go on
                self.stats.failures[row] = exc
                continue
            if action is None:
                keep.append(i)
            elif action == DONE:
                self._finish(row, group, i)
            else:  # roll this row back by `action` patches; it continues on its own until it catches up
                length = group.length - action
                del self.hiddens[row][length:]
                out.append(_Group([row], self.runner.take(group.cache, [i], length), length))
        if len(keep) == len(group.rows):
            return [group]
        if keep:
            out.append(_Group([group.rows[i] for i in keep], self.runner.take(group.cache, keep), group.length))
        return out

    def _finish(self, row: int, group: _Group, i: int) -> None:
        """A finished row may ask for the likelihood of patches after it (infill ranking)."""
        writer = self.writers[row]
        suffix = getattr(writer, "suffix_patches", None)
        if not suffix or getattr(writer, "stopped", None):   # a variant that stopped early is not ranked
            return
        suffix = suffix[:self.patch_length // 2]
        if group.length + len(suffix) <= self.patch_length:
            cache, last = self.runner.take(group.cache, [i]), self.hiddens[row][-1]
        else:  # no room after it: score in a slid context, so every candidate is scored on the same bars
            context = writer.context(self.patch_length - len(suffix))
            hidden, cache = self.runner.patch(patches_to_ids(context)[None], self.runner.empty("patch", 1))
            last = hidden[0, -1]
        writer.suffix_nats = self.score_after(cache, last, suffix)[0]

    def score_after(self, cache: Cache, last_hidden: np.ndarray, patches: list[str]) -> tuple[float, int]:
        """Nats (NotaGen's loss, summed) of `patches` following a cached context, teacher forced."""
        from .scoring import patch_nats  # one definition of the per-patch loss, shared with `score`

        if not patches:
            return 0.0, 0
        ids = patches_to_ids(patches)
        hidden, _ = self.runner.patch(ids[None], cache)
        before = np.concatenate([last_hidden[None], hidden[0, :-1]], axis=0)
        chars = np.concatenate([np.ones((len(ids), 1), dtype=np.int64), ids], axis=1)
        logits, _ = self.runner.char(chars, before, self.runner.empty("char", len(ids)))
        nats, counts = patch_nats(logits, ids)
        return float(nats.sum()), int(counts.sum())

    def _decode_patches(self, rows: list[int]) -> tuple[list[str], list[bool], list[tuple[float, int]]]:
        """One new patch per row: forced where the writer says so, sampled elsewhere."""
        n = len(rows)
        writers = [self.writers[r] for r in rows]
        texts = [""] * n
        eos = [False] * n
        done = [False] * n
        surprise = [(0.0, 0)] * n   # per row: nats of the sampled characters under the model, and how many
        for i, w in enumerate(writers):
            forced = w.forced_patch()
            if forced is not None:
                texts[i], done[i] = forced, True
                eos[i] = len(forced) < PATCH_SIZE
        if all(done):
            return texts, eos, surprise
        if self.speculative is not None:  # the same distribution, fewer char-decoder calls
            return self.speculative.decode_patches(self, rows, texts, eos, done, surprise)
        hidden = np.stack([self.hiddens[r][-1] for r in rows])
        cache = self.runner.empty("char", n)
        chars = np.ones((n, 1), dtype=np.int64)
        for pos in range(PATCH_SIZE):
            logits, cache = self.runner.char(chars, hidden, cache)
            self.stats.char_steps += 1
            chosen = np.zeros(n, dtype=np.int64)
            to_sample, bans, weaks = [], [], []
            for i, w in enumerate(writers):
                if done[i]:
                    continue
                forced, banned = w.constraint(texts[i])
                if forced is not None:
                    chosen[i] = ord(forced)
                    continue
                ban, weak = constraint_masks(banned, patch_start=pos == 0, eos_id=EOS_ID)
                to_sample.append(i)
                bans.append(ban)
                weaks.append(weak)
            if to_sample:  # rows resampling an invalid bar may ask for a cooler temperature
                scales = [getattr(writers[i], "temperature_scale", 1.0) for i in to_sample]
                for scale in sorted(set(scales)):
                    part = [k for k, sc in enumerate(scales) if sc == scale]
                    rows_part = [to_sample[k] for k in part]
                    temperature = None if scale == 1.0 else self.sampler.settings.temperature * scale
                    chosen[rows_part] = self.sampler.sample(logits[rows_part, -1], np.stack([bans[k] for k in part]),
                                                            temperature, np.stack([weaks[k] for k in part]))
                last = logits[to_sample, -1].astype(np.float64)   # the model's surprise, before sampling's changes
                top = last.max(axis=-1, keepdims=True)
                log_norm = top[:, 0] + np.log(np.exp(last - top).sum(axis=-1))
                nats = log_norm - last[np.arange(len(to_sample)), chosen[to_sample]]
                for k, i in enumerate(to_sample):
                    surprise[i] = (surprise[i][0] + float(nats[k]), surprise[i][1] + 1)
            else:   # every row forced: a forced run goes to the char decoder in one call
                run = self._forced_runs(writers, texts, done)
                if run is not None:
                    for i in range(n):
                        if not done[i]:
                            texts[i] += run[i]
                            if texts[i].endswith("\n") or len(texts[i]) == PATCH_SIZE:
                                done[i], eos[i] = True, len(texts[i]) < PATCH_SIZE
                    if all(done):
                        break
                    chars = np.array([[ord(c) for c in r] if r else [0] * len(max(run, key=len)) for r in run])
                    continue
            for i in range(n):
                if done[i]:
                    continue
                c = int(chosen[i])
                if c == EOS_ID:
                    done[i] = eos[i] = True
                    continue
                texts[i] += chr(c)
                if c == 10 or len(texts[i]) == PATCH_SIZE:  # a newline ends its line's last patch
                    done[i] = True
                    eos[i] = len(texts[i]) < PATCH_SIZE
            if all(done):
                break
            chars = chosen[:, None]
        return texts, eos, surprise

    @staticmethod
    def _forced_runs(writers, texts: list[str], done: list[bool]) -> list[str] | None:
        """The forced characters every active row writes next, cut to a common length (>= 2),
        or None (SPEED.md: a forced run costs one char-decoder call)."""
        runs = []
        for w, text, finished in zip(writers, texts, done):
            if finished:
                runs.append(None)
                continue
            run = w.forced_run(text) if hasattr(w, "forced_run") else ""
            if len(run) < 2:
                return None
            runs.append(run)
        k = min(len(r) for r in runs if r is not None)
        return [r[:k] if r is not None else "" for r in runs]
