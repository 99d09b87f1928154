"""NotaGen's training objective on a padded batch of patch sequences.

The patch decoder reads every window; its hidden state after patch t conditions the char
decoder, which is teacher forced on patch t+1 ([bos] + its first 15 characters as input, its
16 characters as labels; pad 0 ignored): the cross-entropy of NotaGen's CharLevelDecoder over
every real patch after the first. Wrapped in one nn.Module so DDP sees a single forward.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from notabridge.onnx_export.model import BOS_ID, PAD_ID, VOCAB_SIZE, NotaGenModel


class NotaGenObjective(nn.Module):
    def __init__(self, model: NotaGenModel, char_patches: int = 0):
        super().__init__()
        self.model = model
        # like NotaGen's PATCH_SAMPLING_BATCH_SIZE: train the char decoder on a random subset
        # of the patches of a batch (0 = all) to spend more of the budget on the patch decoder
        self.char_patches = char_patches

    def forward(self, patches: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """patches [B, N, 16] (pad patches at the end), lengths [B].

        Returns (sum of the per-character losses in nats, number of characters scored).
        """
        nats, chars, _ = self.patch_nats(patches, lengths, sample=self.training)
        return nats.sum(), chars.sum()

    def sequence_nats(self, patches: torch.Tensor, lengths: torch.Tensor, first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sequence: nats and characters of its target patches from index `first[b]` on
        (what suggest-prompt scores: the patches after the prompt lines). [B] each."""
        nats, chars, (row, index) = self.patch_nats(patches, lengths, sample=False)
        keep = (index >= first[row]).to(nats.dtype)
        total = torch.zeros(len(lengths), dtype=nats.dtype, device=nats.device)
        count = torch.zeros_like(total)
        return total.index_add(0, row, nats * keep), count.index_add(0, row, chars.to(nats.dtype) * keep)

    def patch_nats(self, patches: torch.Tensor, lengths: torch.Tensor, sample: bool):
        """Per target patch: nats, non-pad characters, and (sequence, position) of the patch."""
        model = self.model
        batch, n, _ = patches.shape
        dtype = model.patch_level_decoder.patch_embedding.weight.dtype
        pk, pv = model.empty_cache("patch", batch, dtype)
        hidden, _, _ = model.patch_level_decoder(patches, pk.to(patches.device), pv.to(patches.device))
        steps = torch.arange(n - 1, device=patches.device)
        real = steps.unsqueeze(0) < (lengths.unsqueeze(1) - 1)     # [B, N-1]: patch t+1 exists
        row, column = real.nonzero(as_tuple=True)
        context = hidden[:, :-1][real]                              # [M, d]
        targets = patches[:, 1:][real]                              # [M, 16]
        if sample and 0 < self.char_patches < len(targets):
            pick = torch.randperm(len(targets), device=patches.device)[: self.char_patches]
            context, targets, row, column = context[pick], targets[pick], row[pick], column[pick]
        chars = torch.cat([torch.full_like(targets[:, :1], BOS_ID), targets[:, :-1]], dim=1)
        ck, cv = model.empty_cache("char", len(targets), dtype)
        logits, _, _ = model.char_level_decoder(chars, context.to(dtype), ck.to(patches.device), cv.to(patches.device))
        loss = F.cross_entropy(logits.float().reshape(-1, VOCAB_SIZE), targets.reshape(-1),
                               ignore_index=PAD_ID, reduction="none").view(len(targets), 16)
        return loss.sum(1), (targets != PAD_ID).sum(1), (row, column + 1)
