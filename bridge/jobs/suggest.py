"""Which of a model's style prompts fits some bars best: the prompts ranked by the likelihood
the model gives the bars after each prompt's lines.

NotaGen puts the prompt lines first (bos patch, `%period`, `%composer`, `%instrumentation`,
then the header and the bars), so the bars' patches have a different history under every
prompt and no KV cache can be shared between prompts (only the bos patch is common). What is
shared is the char decoder's work, where nearly all the cost is: every scored patch of every
prompt goes through it in large batches of rows of similar length (notabridge.engine.runtime.Runner). The score
of a prompt is the log-likelihood of the header and bar patches after its prompt lines, summed
as in NotaGen's training loss (notabridge.engine.scoring.patch_nats); the prompt lines' own likelihood is
left out (it would favour short, frequent prompts whatever the music).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from notabridge.errors import JobError
from notabridge.abc.patching import PAD_ID, line_patches, patches_to_ids, piece_patches, split_piece
from notabridge.abc.prompt import prompt_text
from notabridge.engine.runtime import Runner

Prompt = tuple[str, str, str]
CHAR_ROWS = 512       # char-decoder rows per call: large batches, bounded memory
DEFAULT_TOP = 3


@dataclass
class Suggestion:
    prompt: Prompt
    nats: float          # negative log-likelihood of the scored patches
    chars: int           # characters scored (the same for every prompt)

    @property
    def bits_per_char(self) -> float:
        return self.nats / self.chars / math.log(2) if self.chars else float("nan")

    def as_dict(self) -> dict:
        return {"prompt": list(self.prompt), "period": self.prompt[0], "composer": self.prompt[1],
                "instrumentation": self.prompt[2], "log_likelihood": -self.nats,
                "bits_per_char": self.bits_per_char}


def fit_bars(abc_text: str, room: int) -> tuple[str, int]:
    """The header and as many leading bars as fit in `room` patches; (text, bars kept)."""
    split = split_piece(abc_text)
    header, body = split.header, split.body
    for keep in range(len(body), 0, -1):
        text = "".join(header + body[:keep])
        if len(piece_patches(text, add_eos=False)) <= room:
            return text, keep
    raise JobError("the selection's header alone does not fit the model's context: select fewer staves")


def rank_prompts(runner: Runner, prompts: list[Prompt], abc_text: str) -> tuple[list[Suggestion], int]:
    """All `prompts` ranked best first for interleaved ABC `abc_text` (header + bars, no prompt
    lines); also returns how many bars were scored (the leading bars that fit the context)."""
    if not prompts:
        raise JobError("this model lists no style prompts (its prompts.json is empty): nothing to suggest")
    longest = max(prompt_patches(p) for p in prompts)
    text, bars = fit_bars(abc_text, runner.patch_length - longest)
    if bars == 0:
        raise JobError("the selection holds no bars to score")
    rows = [(p, patches_to_ids(piece_patches(prompt_text(p) + text, add_eos=False)), 1 + prompt_patches(p))
            for p in prompts]
    nats, chars = _score_after(runner, [(ids, first) for _, ids, first in rows])
    out = [Suggestion(p, float(n), chars) for (p, _, _), n in zip(rows, nats)]
    out.sort(key=lambda s: s.nats)
    return out, bars


def prompt_patches(prompt: Prompt) -> int:
    """Patches of a prompt's lines (the patches before the scored ones, after bos)."""
    return sum(len(line_patches(line + "\n", False)) for line in prompt_text(prompt).splitlines())


def _score_after(runner: Runner, pieces: list[tuple[np.ndarray, int]]) -> tuple[list[float], int]:
    """Per piece (ids [N, 16], first target index): nats of patches first..N-1, teacher forced.

    The patch decoder runs once per piece (batch 1: ORT's attention over many new positions is
    much slower in batches than one row at a time); the char decoder then scores every target
    patch of every piece in large batches."""
    from notabridge.engine.scoring import patch_nats

    befores, targets, owner = [], [], []
    for row, (ids, first) in enumerate(pieces):
        hidden, _ = runner.patch(ids[None], runner.empty("patch", 1))
        befores.append(hidden[0, first - 1:len(ids) - 1])      # the state before each target
        targets.append(ids[first:])
        owner += [row] * (len(ids) - first)
    before, target, owner = np.concatenate(befores), np.concatenate(targets), np.asarray(owner)
    # a patch of c characters (eos included) needs the char decoder at positions 0..c-1 only;
    # rows of similar length go together so short patches cost little (most bars end in one)
    lengths = (target != PAD_ID).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    nats = np.zeros(len(target))
    for start in range(0, len(order), CHAR_ROWS):
        part = order[start:start + CHAR_ROWS]
        width = max(1, int(lengths[part].max()))
        chars = np.concatenate([np.ones((len(part), 1), dtype=np.int64), target[part, :width - 1]], axis=1)
        logits, _ = runner.char(chars, before[part], runner.empty("char", len(part)))
        nats[part], _ = patch_nats(logits, target[part, :width])
    totals = np.bincount(owner, weights=nats, minlength=len(pieces))
    return [float(t) for t in totals], int(lengths[owner == 0].sum())


def selection_abc(excerpt: dict, warnings: list[str] | None = None) -> str:
    """The selected measures (and staves) of an excerpt as interleaved ABC without prompt lines."""
    from notabridge import notation
    from notabridge.notation import NotationError

    selection = excerpt.get("selection")
    if not selection:
        raise JobError("select the measures whose style you want named (the excerpt has no selection)")
    try:
        cut = notation.cut_measures(excerpt, selection["start"], selection["end"])
        staves = selection.get("staves")
        if staves is not None and set(staves) != {s["index"] for s in cut["staves"]}:
            cut = only_staves(cut, staves)
        return notation.excerpt_to_abc(cut, warnings=warnings)
    except NotationError as exc:
        raise JobError(str(exc)) from None


def only_staves(excerpt: dict, staves: list[int]) -> dict:
    """A copy of the excerpt holding only the given staves (and their parts)."""
    from notabridge.notation.excerpt_base import copy_excerpt

    keep = set(staves)
    out = copy_excerpt(excerpt)
    out["staves"] = [s for s in out["staves"] if s["index"] in keep]
    if not out["staves"]:
        raise JobError("the selection names no staff of the excerpt")
    parts = {s["part"] for s in out["staves"]}
    out["parts"] = [dict(p, staves=[s for s in p["staves"] if s in keep]) for p in out["parts"] if p["id"] in parts]
    for m in out["measures"]:
        m["staves"] = [s for s in m["staves"] if s["staff"] in keep]
    if out.get("selection"):
        out["selection"]["staves"] = [s for s in out["selection"]["staves"] if s in keep]
    return out


def suggest(engine, excerpt: dict, top: int = DEFAULT_TOP) -> dict:
    """The `top` prompts of the engine's model for the excerpt's selection, best first, as JSON:
    {"suggestions": [...], "bars_scored": n, "prompts_ranked": m, "warnings": [...]}."""
    warnings: list[str] = []
    prompts = [tuple(p) for p in (engine.info.get("prompts") or []) if len(p) == 3]
    ranked, bars = rank_prompts(engine.runner, prompts, selection_abc(excerpt, warnings))
    selected = excerpt["selection"]["end"] - excerpt["selection"]["start"]
    if bars < selected:
        warnings.append(f"only the first {bars} of the {selected} selected bars fit the model's context")
    return {"suggestions": [s.as_dict() for s in ranked[:max(1, top)]], "bars_scored": bars,
            "prompts_ranked": len(ranked), "warnings": warnings}
