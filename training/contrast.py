"""The margin objective of `notabridge finetune`: a user's piece must be likelier under its own
prompt than under each competing prompt, by a margin, on the bars suggest-prompt scores.

Why: fine-tuning changes weights every prompt shares, so the user's music becomes likelier under
every prompt; rehearsal (training.rehearsal) keeps each competing prompt likely on its own music,
but nothing made the new style's music unlikely under a competing prompt. Measured on Grieg
(bench/finetune.py): with rehearsal alone, Robert or Clara Schumann's prompt still beat the new one
on 9 of 15 test pieces, by 1-2% of their nats.

A training piece may name competing prompts (`"contrast"` in its corpus record). Each step draws
PIECES such pieces, a random key and a random run of up to BARS body lines, writes that run under
its own prompt and under every competing prompt (the same header and bars, only the prompt lines
differ; encoded as suggest-prompt encodes a selection), and the loss is the mean hinge
max(0, margin + own - competing) in nats per character of the patches after the prompt lines.
"""
from __future__ import annotations

import numpy as np
import torch

from notabridge.abc.prompt import prompt_text
from notabridge.errors import JobError
from notabridge.abc.patching import patches_to_ids, piece_patches, split_piece
from notabridge.jobs.suggest import fit_bars, prompt_patches

from .data import Piece
from .objective import NotaGenObjective

BARS = 8            # body lines per window: suggest-prompt's measure (8 bars)
PIECES = 1          # pieces per step, each written under 1 + competing prompts (3 measured no better, half the steps)
MARGIN = 0.05       # nats per character


class ContrastSampler:
    """Runs of bars of pieces with competing prompts, each under its own prompt and every competing
    one, encoded as suggest-prompt encodes a selection (its `[r:]` marks count from the run's first bar)."""

    def __init__(self, pieces: list[Piece], patch_length: int, bars: int = BARS, per_step: int = PIECES):
        self.pieces = [p for p in pieces if p.contrast]
        self.patch_length, self.bars, self.per_step = patch_length, bars, per_step

    def __bool__(self) -> bool:
        return bool(self.pieces)

    def sample(self, rng: np.random.Generator, whole: bool = False):
        """(windows, first scored index per window, (own row, competing row) pairs).

        `whole`: every piece's first bars in its own key (evaluation); otherwise PIECES random pieces,
        keys and runs of bars."""
        if whole:
            chosen = [(piece, piece.abc, 0) for piece in self.pieces]
        else:
            picks = rng.choice(len(self.pieces), size=min(self.per_step, len(self.pieces)), replace=False)
            chosen = []
            for i in picks:
                piece = self.pieces[int(i)]
                texts = [piece.abc] + piece.variants.get("finetune", [])
                chosen.append((piece, texts[int(rng.integers(len(texts)))], None))
        windows, first, pairs = [], [], []
        for piece, text, line in chosen:
            prompts = [piece.prompt] + [tuple(p) for p in piece.contrast]
            split = split_piece(text)
            if line is None:
                line = int(rng.integers(0, max(1, len(split.body) - self.bars + 1)))
            room = self.patch_length - max(prompt_patches(p) for p in prompts)
            try:
                run, _ = fit_bars("".join(split.header + split.body[line:line + self.bars]), room)
            except JobError:        # a header too long for the context: the piece cannot be compared
                continue
            own = len(windows)
            for prompt in prompts:
                if prompt != piece.prompt:
                    pairs.append((own, len(windows)))
                windows.append(patches_to_ids(piece_patches(prompt_text(prompt) + run, add_eos=False)))
                first.append(1 + prompt_patches(prompt))
        return windows, np.asarray(first), np.asarray(pairs).reshape(-1, 2)


def margin_terms(objective: NotaGenObjective, windows: list[np.ndarray], first: np.ndarray, pairs: np.ndarray,
                 device: torch.device) -> torch.Tensor:
    """own - competing, in nats per character, for every (own, competing) pair."""
    from .data import collate

    patches, lengths = collate(windows)
    nats, chars = objective.sequence_nats(torch.from_numpy(patches).to(device), torch.from_numpy(lengths).to(device),
                                          torch.from_numpy(first).to(device))
    per_char = nats / chars.clamp(min=1)
    own, other = torch.from_numpy(pairs[:, 0]).to(device), torch.from_numpy(pairs[:, 1]).to(device)
    return per_char[own] - per_char[other]


def hinge(differences: torch.Tensor, margin: float = MARGIN) -> torch.Tensor:
    return torch.relu(margin + differences).mean()


@torch.no_grad()
def own_prompt_first(objective: NotaGenObjective, sampler: ContrastSampler, device: torch.device) -> tuple[int, int]:
    """How many of the sampler's pieces score best under their own prompt on their first bars (of how many)."""
    if not sampler:
        return 0, 0
    was_training = objective.training
    objective.eval()
    windows, first, pairs = sampler.sample(np.random.default_rng(0), whole=True)
    differences = margin_terms(objective, windows, first, pairs, device).cpu().numpy()
    objective.train(was_training)
    owners = pairs[:, 0]
    wins = sum(bool((differences[owners == own] < 0).all()) for own in np.unique(owners))
    return wins, len(np.unique(owners))
