"""Next-character sampling: top-k, top-p and temperature on small numpy arrays.

NotaGen's order ("notagen"): keep the top-k probabilities, then the smallest set whose mass
reaches top-p, then apply the temperature to that truncated distribution and renormalise.
The usual order ("standard"): temperature on the logits first, then top-k and top-p.
Every draw comes from one seeded numpy Generator, so the same seed and settings give the
same output. NaN or infinite logits are treated as impossible characters.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

GREEDY_TEMPERATURE = 1e-4  # below this, sampling is argmax
ORDERS = ("notagen", "standard")


@dataclass
class Sampling:
    temperature: float = 1.2
    top_k: int = 9
    top_p: float = 0.9
    seed: int | None = None
    order: str = "notagen"

    def check(self) -> list[str]:
        """Problems with these settings, as user-facing sentences (empty when fine)."""
        errors = []
        if not np.isfinite(self.temperature) or self.temperature < 0:
            errors.append(f"temperature must be a number >= 0 (got {self.temperature})")
        if int(self.top_k) != self.top_k or self.top_k < 0:
            errors.append(f"top_k must be a whole number >= 0, 0 meaning no limit (got {self.top_k})")
        if not (0 <= self.top_p <= 1):
            errors.append(f"top_p must be between 0 and 1 (got {self.top_p})")
        if self.order not in ORDERS:
            errors.append(f"order must be one of {', '.join(ORDERS)} (got {self.order!r})")
        return errors


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64; rows with no finite logit become uniform."""
    x = np.where(np.isfinite(logits), logits, -np.inf).astype(np.float64)
    peak = x.max(axis=-1, keepdims=True)
    dead = ~np.isfinite(peak)
    x = np.where(dead, 0.0, x - np.where(dead, 0.0, peak))
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def _top_k(probs: np.ndarray, k: int) -> np.ndarray:
    if k <= 0 or k >= probs.shape[-1]:
        return probs
    kth = -np.partition(-probs, k - 1, axis=-1)[:, k - 1:k]
    return np.where(probs >= kth, probs, 0.0)


def _top_p(probs: np.ndarray, p: float) -> np.ndarray:
    if p >= 1.0:
        return probs
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(probs, order, axis=-1)
    total = sorted_p.sum(axis=-1, keepdims=True)
    before = np.cumsum(sorted_p, axis=-1) - sorted_p
    keep_sorted = before < p * total          # always keeps the most likely character
    keep_sorted[:, 0] = True
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return np.where(keep, probs, 0.0)


def _temper(probs: np.ndarray, temperature: float) -> np.ndarray:
    """probs ** (1/T), renormalised, computed in log space (zeros stay zero)."""
    with np.errstate(divide="ignore"):
        logp = np.log(probs)
    return _softmax(logp / temperature)


def _normalise(probs: np.ndarray) -> np.ndarray:
    return probs / probs.sum(axis=-1, keepdims=True)


def distribution(logits: np.ndarray, settings: Sampling, banned: np.ndarray | None = None,
                 fallback_banned: np.ndarray | None = None) -> np.ndarray:
    """The distribution the sampler draws from, [B, V] float64 rows summing to 1.

    `banned` [B, V] bool marks characters that must not be drawn (a writer's grammar masks).
    They are taken out after top-k and top-p, which keep the characters the model finds
    plausible: a weak model whose plausible characters are all banned does not draw from its
    implausible tail (junk the renormalised rest would give); it gets the likeliest allowed
    character instead (of those `fallback_banned` leaves, when it leaves any). Rows with
    nothing banned are NotaGen's sampling unchanged; a row that bans every character bans none."""
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    probs = full = _softmax(logits)
    allowed = fallback = None
    if banned is not None:
        banned = np.atleast_2d(banned)
        allowed = ~banned
        allowed[~allowed.any(axis=-1)] = True
        fallback = allowed if fallback_banned is None else allowed & ~np.atleast_2d(fallback_banned)
        fallback[~fallback.any(axis=-1)] = allowed[~fallback.any(axis=-1)]
    greedy = settings.temperature < GREEDY_TEMPERATURE or settings.top_k == 1
    if greedy:
        return _one_hot(np.where(allowed, probs, -1.0) if allowed is not None else probs)
    if settings.order == "standard":
        probs = _normalise(_top_p(_top_k(_temper(probs, settings.temperature), settings.top_k), settings.top_p))
        return _allowed_part(probs, allowed, fallback, full)
    probs = _normalise(_top_p(_top_k(probs, settings.top_k), settings.top_p))
    return _temper(_allowed_part(probs, allowed, fallback, full), settings.temperature)


def _one_hot(scores: np.ndarray) -> np.ndarray:
    out = np.zeros_like(scores, dtype=np.float64)
    np.put_along_axis(out, scores.argmax(axis=-1)[:, None], 1.0, axis=-1)
    return out


def _allowed_part(kept: np.ndarray, allowed: np.ndarray | None, fallback: np.ndarray | None,
                  full: np.ndarray) -> np.ndarray:
    """`kept` (the truncated distribution) restricted to `allowed`; where none of it is allowed,
    the likeliest `fallback` character of the full distribution."""
    if allowed is None:
        return kept
    part = np.where(allowed, kept, 0.0)
    empty = part.sum(axis=-1) <= 0
    if empty.any():
        part[empty] = _one_hot(np.where(fallback[empty], full[empty], -1.0))
    return _normalise(part)


class Sampler:
    """Draws character ids for a batch of logits rows from one seeded generator."""

    def __init__(self, settings: Sampling):
        errors = settings.check()
        if errors:
            raise ValueError("; ".join(errors))
        self.settings = settings
        self.rng = np.random.default_rng(settings.seed)

    def sample(self, logits: np.ndarray, banned: np.ndarray | None = None,
               temperature: float | None = None, fallback_banned: np.ndarray | None = None) -> np.ndarray:
        """One id per row of logits [B, V] (int64 [B]); `temperature` overrides the settings' one;
        `banned` / `fallback_banned` as in `distribution`."""
        settings = self.settings if temperature is None else replace(self.settings, temperature=temperature)
        probs = distribution(logits, settings, banned, fallback_banned)
        # inverse-CDF draw: one uniform per row keeps the stream reproducible for any batch size
        u = self.rng.random(probs.shape[0])[:, None]
        cdf = np.cumsum(probs, axis=-1)
        ids = (cdf < u * cdf[:, -1:]).sum(axis=-1)
        # never land on a zero-probability id through float round-off
        ids = np.minimum(ids, probs.shape[-1] - 1)
        bad = probs[np.arange(len(ids)), ids] <= 0
        if bad.any():
            ids[bad] = probs[bad].argmax(axis=-1)
        return ids.astype(np.int64)


# never sampled: pad, bos, control characters other than tab and newline, DEL
BASE_BANNED = np.zeros(128, dtype=bool)
BASE_BANNED[[0, 1, *range(3, 10), *range(11, 32), 127]] = True


def constraint_masks(banned, patch_start: bool, eos_id: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A writer's bans (a string of banned characters, or 128 ban levels: 2 banned, 1 allowed but
    not as a fallback) as (ban, weak) masks for sampling; the first character of a patch is never
    eos (a patch holds at least one character)."""
    weak = None
    if isinstance(banned, np.ndarray):
        ban = (banned >= 2) | BASE_BANNED
        weak = banned >= 1
    else:
        ban = BASE_BANNED.copy()
        for c in banned:
            ban[ord(c)] = True
    if patch_start:
        ban[eos_id] = True
    return ban, ban if weak is None else (weak | ban)
