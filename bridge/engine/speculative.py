"""Exact speculative decoding of a patch's characters: an n-gram drafts, one char-decoder call verifies.

Per call, each row feeds its characters not yet in the char cache followed by up to
`max_draft` drafted ones, plus any forced characters among them (free: a forced run goes in
one call, as plain decoding feeds it); the logits at every position give the model's
distribution p there, exactly the one plain decoding samples from (bridge/engine/decoder.py:
top-k / top-p / temperature, then the writer's ban levels and its fallback, through
notabridge.engine.sampling.distribution). Draft character d, drawn from the draft distribution
q (the n-gram's, bridge/engine/draft.py, on the allowed characters), is kept with probability
min(1, p(d) / q(d)); at the first rejection a character is drawn from max(0, p - q)
renormalised and the row's round ends; when all are kept, one more is drawn from p at the next
position. Every character so produced is distributed exactly as plain sampling would draw it
(Leviathan et al. 2023, "Fast Inference from Transformers via Speculative Decoding"), whatever
the draft. The writer's constraints along a draft come from `writer.probe(text)`, which leaves
the writer untouched (the bar writer's `constraint()` reads a patch incrementally); the writer
sees only confirmed patches. Random draws come from the decoder's seeded Sampler, so a seed
still gives the same music (other music than without speculation, the same distribution).

Rows of a batch share the char cache's length (the graph has no attention mask): after a call
the cache keeps the positions every row has confirmed, and a row that confirmed more feeds the
rest again in the next call (nothing confirmed is thrown away).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .draft import DraftTable
from notabridge.abc.patching import EOS_ID, PATCH_SIZE
from notabridge.engine.sampling import GREEDY_TEMPERATURE, Sampling, constraint_masks, distribution

VOCAB = 128
MAX_DRAFT = 8               # drafted characters per call at most (measured: 8 beat 3, 5, 12 and 16 on chorales)
MIN_DRAFT_PROBABILITY = 0.1  # stop drafting after a character the draft itself found this unlikely


@dataclass
class SpeculativeStats:
    calls: int = 0          # char-decoder calls
    patches: int = 0        # patches decoded
    chars: int = 0          # characters produced (forced ones included)
    drafted: int = 0        # sampled (not forced) drafted characters tested against the model
    accepted: int = 0       # of those, kept
    per_call: list[int] = field(default_factory=list)   # characters a call confirmed, summed over rows

    @property
    def acceptance(self) -> float:
        return self.accepted / self.drafted if self.drafted else float("nan")

    @property
    def chars_per_call(self) -> float:
        return self.chars / self.calls if self.calls else float("nan")


@dataclass
class _Row:
    index: int              # position in the decoder's rows
    writer: object
    settings: Sampling
    history: str            # text before this patch the draft may condition on
    text: str = ""          # confirmed characters of the patch
    pending: list[int] = field(default_factory=list)   # confirmed ids not yet in the char cache
    next: int = 0           # the last character produced, fed next call
    done: bool = False
    eos: bool = False
    nats: float = 0.0       # the model's surprise at the sampled characters (decoder.py's measure)
    sampled: int = 0


class _StatelessProbe:
    """A probe for writers whose `constraint(text)` has no state (test writers): asked directly."""

    def __init__(self, writer, text: str):
        self.writer, self.text = writer, text

    def advance(self, c: str) -> None:
        self.text += c

    def constraint(self):
        return self.writer.constraint(self.text)


def probe(writer, text: str):
    """The writer's constraints after `text` and along drafted characters, without side effects
    (notabridge.engine.writer.BarWriter.probe: its `constraint` reads the patch incrementally)."""
    make = getattr(writer, "probe", None)
    return make(text) if make is not None else _StatelessProbe(writer, text)


Constraint = tuple  # (forced id or None, banned [128] bool or None, fallback-banned [128] bool or None)


def constraint_at(probe_, text: str) -> Constraint:
    """The probe's constraint as the decoder's plain loop turns it into masks
    (bridge/engine/decoder.py): `text` is the patch so far (a patch holds at least one character)."""
    forced, banned = probe_.constraint()
    if forced is not None:
        return ord(forced), None, None
    return (None, *constraint_masks(banned, patch_start=not text, eos_id=EOS_ID))


class Speculator:
    def __init__(self, table: DraftTable, max_draft: int | None = None):
        self.table = table
        self.max_draft = max_draft or MAX_DRAFT
        self.stats = SpeculativeStats()
        self._tails: dict[int, str | None] = {}   # id(writer) -> end of its last patch (writers without line_text)
        self._q_cache: dict[tuple, np.ndarray | None] = {}

    # -- the decoder's hook ---------------------------------------------------------------------
    def decode_patches(self, decoder, rows: list[int], texts: list[str], eos: list[bool], done: list[bool],
                       surprise: list[tuple[float, int]]) -> tuple[list[str], list[bool], list[tuple[float, int]]]:
        """One new patch for each row not `done` (bridge/engine/decoder.py's _decode_patches); fills
        `texts`, `eos` and `surprise` (nats of the sampled characters, how many) in place and
        returns them."""
        base = decoder.sampler.settings
        active = []
        for i, r in enumerate(rows):
            if done[i]:
                continue
            w = decoder.writers[r]
            scale = getattr(w, "temperature_scale", 1.0)
            settings = base if scale == 1.0 else replace(base, temperature=base.temperature * scale)
            active.append(_Row(i, w, settings, self._history(w), pending=[1]))  # position 0: bos (hidden state)
            self._tails[id(w)] = None   # set again below when this patch is done
        rng = decoder.sampler.rng
        hidden = np.stack([decoder.hiddens[rows[row.index]][-1] for row in active])
        cache = decoder.runner.empty("char", len(active))
        cached = 0
        while active:
            drafts = [self._draft(row, rng) for row in active]
            width = max(len(row.pending) + len(chars) for row, (chars, _, _) in zip(active, drafts))
            feed = np.zeros((len(active), width), dtype=np.int64)
            for k, (row, (chars, _, _)) in enumerate(zip(active, drafts)):
                seq = row.pending + chars
                feed[k, :len(seq)] = seq
                feed[k, len(seq):] = seq[-1]    # padding: positions past a row's own are never kept
            logits, cache = decoder.runner.char(feed, hidden, cache)
            decoder.stats.char_steps += 1
            self.stats.calls += 1
            confirmed = [self._verify(row, logits[k, len(row.pending) - 1:], *drafts[k], rng)
                         for k, row in enumerate(active)]
            self.stats.per_call.append(sum(n for n, _ in confirmed))
            for row in active:
                if row.done:
                    texts[row.index], eos[row.index] = row.text, row.eos
                    surprise[row.index] = (row.nats, row.sampled)
                    self.stats.patches += 1
                    self._tails[id(row.writer)] = (row.history + row.text + (chr(EOS_ID) if row.eos else ""))[-16:]
            live = [k for k, row in enumerate(active) if not row.done]
            if not live:
                break
            # the cache keeps the fed positions every live row confirmed; a row's others are fed again
            common = min(confirmed[k][1] for k in live)
            for k in live:
                row, (_, kept) = active[k], confirmed[k]
                fed = row.pending + drafts[k][0]
                row.pending = fed[common:kept] + [row.next]
            cached += common
            cache = tuple(c[live, :, :cached] for c in cache)
            hidden = hidden[live]
            active = [active[k] for k in live]
        return texts, eos, surprise

    # -- internals ------------------------------------------------------------------------------
    def _history(self, writer) -> str:
        """The text before the patch the n-gram conditions on: the writer's current line so far, its
        patches' eos included (notabridge.engine.writer.BarWriter), or the end of the previous line
        (a newline, then eos) at a line's start; for other writers the end of the patch this
        speculator wrote for it last."""
        patches = getattr(writer, "line_patches", None)   # with their eos, as the table's training text
        line = "".join(patches) if patches is not None else None
        if line is None:
            line = self._tails.get(id(writer)) or ""
        return line if line else "\n" + chr(EOS_ID)

    def _draft(self, row: _Row, rng) -> tuple[list[int], list[np.ndarray | None], list[Constraint]]:
        """Drafted ids after the row's confirmed text (at most to the end of the patch), their draft
        distributions q (None for a forced character: drafted with certainty), and the constraint
        at every position from the first drafted character to the one after the last. Forced
        characters do not count against max_draft: a forced run goes to the model in one call,
        as in plain decoding."""
        chars, qs = [], []
        text = row.text
        writer_probe = probe(row.writer, text)
        constraints = [constraint_at(writer_probe, text)]
        sampled = 0
        while len(text) < PATCH_SIZE:
            forced, ban, weak = constraints[-1]
            if forced is not None:
                q, c = None, forced
            else:
                q = self._q(row.history + text, ban, row.settings) if sampled < self.max_draft else None
                if q is None:
                    break                       # budget spent, or nothing to offer: the model goes on alone
                c = _draw(q, rng)
                sampled += 1
            chars.append(c)
            qs.append(q)
            if c in (EOS_ID, 10) or len(text) + 1 == PATCH_SIZE:
                break                           # this character ends the patch
            text += chr(c)
            writer_probe.advance(chr(c))
            constraints.append(constraint_at(writer_probe, text))
            if q is not None and q[c] < MIN_DRAFT_PROBABILITY:
                break
        return chars, qs, constraints

    def _verify(self, row: _Row, logits: np.ndarray, chars: list[int], qs: list[np.ndarray | None],
                constraints: list[Constraint], rng) -> tuple[int, int]:
        """Keep or replace the drafts by the model's logits (row j predicts draft j; one row more
        for the character after them). The model's distribution at a position is exactly the one
        plain decoding samples from there (notabridge.engine.sampling.distribution with the same
        settings, bans and fallback). Updates the row's text / done / eos / next (the last
        character produced, fed next call) and its surprise. Returns (characters produced, fed
        positions confirmed: the pending ones and the kept drafts)."""
        produced: list[int] = []
        sampled_at: list[int] = []              # positions whose character was sampled (not forced)
        kept = 0
        ended = False
        sampled = [j for j, (forced, _, _) in enumerate(constraints) if forced is None]
        ps = {}
        if sampled:
            dist = distribution(logits[sampled], row.settings, np.stack([constraints[j][1] for j in sampled]),
                                np.stack([constraints[j][2] for j in sampled]))
            ps = dict(zip(sampled, dist))
        for j in range(len(chars) + 1):
            if j == len(chars):                 # every draft kept: one more from the model
                if ended:
                    break
                forced = constraints[j][0]
                if forced is None:
                    sampled_at.append(j)
                produced.append(forced if forced is not None else _draw(ps[j], rng))
                break
            c, q = chars[j], qs[j]
            if q is not None:
                self.stats.drafted += 1
                sampled_at.append(j)
                p = ps[j]
                if rng.random() * q[c] >= p[c]:    # rejected (kept with probability min(1, p/q))
                    residual = np.maximum(p - q, 0.0)
                    total = residual.sum()
                    produced.append(_draw(residual / total if total > 0 else p, rng))
                    break
                self.stats.accepted += 1
            produced.append(c)
            kept += 1
            ended = c in (EOS_ID, 10) or len(row.text) + len(produced) == PATCH_SIZE
        self.stats.chars += len(produced)
        if sampled_at:   # the model's surprise at what was sampled, before sampling's changes (as plain decoding)
            last = logits[sampled_at].astype(np.float64)
            top = last.max(axis=-1)
            log_norm = top + np.log(np.exp(last - top[:, None]).sum(axis=-1))
            picked = last[np.arange(len(sampled_at)), [produced[j] for j in sampled_at]]
            row.nats += float((log_norm - picked).sum())
            row.sampled += len(sampled_at)
        row.next = produced[-1]
        for c in produced:
            if c == EOS_ID:
                row.done = row.eos = True
                break
            row.text += chr(c)
            if c == 10 or len(row.text) == PATCH_SIZE:
                row.done, row.eos = True, len(row.text) < PATCH_SIZE
                break
        return len(produced), len(row.pending) + kept

    def _q(self, history: str, ban: np.ndarray, settings: Sampling) -> np.ndarray | None:
        """The draft distribution after `history`: the table's on the allowed characters, shaped
        like the model's (top-k, top-p, temperature) so that its drafts are kept more often; None
        when the table gives no allowed character a chance. Any q keeps the sampling exact (only
        p decides), so this one is cheap: the table's few characters, no full softmax. Cached:
        contexts and bans repeat all the time."""
        context = history[len(history) - self.table.order + 1:]
        key = (context, ban.tobytes(), settings.temperature)
        if key not in self._q_cache:
            if len(self._q_cache) > 50_000:
                self._q_cache.clear()
            p_draft = np.where(ban, 0.0, self.table.probs(context))
            ids = np.flatnonzero(p_draft)
            q = None
            if len(ids):
                v = p_draft[ids]
                order = np.argsort(-v, kind="stable")
                ids, v = ids[order], v[order]
                if settings.temperature < GREEDY_TEMPERATURE or settings.top_k == 1:
                    ids, v = ids[:1], v[:1]
                else:
                    if settings.top_k > 0:
                        ids, v = ids[:settings.top_k], v[:settings.top_k]
                    keep = max(1, int(((np.cumsum(v) - v) < settings.top_p * v.sum()).sum()))
                    ids, v = ids[:keep], v[:keep] ** (1.0 / settings.temperature)
                q = np.zeros(VOCAB)
                q[ids] = v / v.sum()
            self._q_cache[key] = q
        return self._q_cache[key]


def _draw(probs: np.ndarray, rng) -> int:
    """One id from `probs` by inverse CDF (as notabridge.engine.sampling.Sampler does)."""
    cdf = np.cumsum(probs)
    i = int((cdf < rng.random() * cdf[-1]).sum())
    i = min(i, len(probs) - 1)
    if probs[i] <= 0:
        i = int(probs.argmax())
    return i
