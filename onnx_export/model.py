"""NotaGen's two-level GPT-2 model in plain PyTorch, with NotaGen's state-dict names.

Written from the architecture facts (pre-LN GPT-2 blocks, gelu_new, eps 1e-5, head size 64,
Conv1D weights stored [in, out]) so that a released NotaGen `.pth` loads with a strict key
check. Every forward takes and returns a stacked key/value cache so the same code serves
full-sequence scoring (empty cache) and the one-step graphs exported to ONNX.

Cache layout: keys and values are each [layers, batch, heads, length, 64] (stacked tensors), or
per layer: sequences of [batch, heads, length, 64] tensors, as the ONNX bundle has them
(docs/bundle.md: one graph input/output per layer, so the graph slices and restacks nothing).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
import torch.nn.functional as F

PATCH_SIZE = 16
VOCAB_SIZE = 128
HEAD_DIM = 64
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


@dataclass(frozen=True)
class ModelSizes:
    """The shape of a NotaGen model; everything else is fixed by the architecture."""

    hidden_size: int
    patch_num_layers: int
    char_num_layers: int
    patch_length: int
    patch_size: int = PATCH_SIZE

    @property
    def num_heads(self) -> int:
        return self.hidden_size // HEAD_DIM

    def as_dict(self) -> dict:
        return asdict(self) | {"num_heads": self.num_heads, "head_dim": HEAD_DIM, "vocab_size": VOCAB_SIZE}


class Conv1D(nn.Module):
    """GPT-2's linear layer: weight stored [in, out] (the transpose of nn.Linear)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out).normal_(std=0.02))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


class Attention(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.heads = d // HEAD_DIM
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor, past_length=None):
        """past_length None: past_k/v hold exactly the cached positions and the presents are them
        grown by T. A tensor: past_k/v are buffers of a fixed capacity whose first `past_length`
        positions are the cache; the presents are the buffers with the new positions written
        (the bundle's patch graph, where ONNX Runtime does that in place)."""
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        if past_length is not None:
            y, k, v = torch.ops.notabridge.buffered_attention(q, k, v, past_k, past_v, past_length)
            return self.c_proj(y), k, v
        q, k, v = (heads(z) for z in (q, k, v))
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        y = attend(q, k, v)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d)), k, v


def heads(z: torch.Tensor) -> torch.Tensor:
    """[B, T, d] -> [B, H, T, 64]"""
    b, t, d = z.shape
    return z.reshape(b, t, d // HEAD_DIM, HEAD_DIM).transpose(1, 2)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal attention of the T queries at the last T of k's positions: q [B,H,T,64], k/v [B,H,P+T,64]."""
    t, p = q.shape[2], k.shape[2] - q.shape[2]
    # query i (absolute position p+i) sees keys 0..p+i
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(HEAD_DIM)
    rows = torch.arange(t, device=q.device).unsqueeze(1) + p
    cols = torch.arange(k.shape[2], device=q.device).unsqueeze(0)
    scores = scores.masked_fill(cols > rows, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1) @ v


@torch.library.custom_op("notabridge::buffered_attention", mutates_args=())
def buffered_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_buffer: torch.Tensor,
                       value_buffer: torch.Tensor, past_length: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q/k/v [B, T, d] of the new positions; buffers [B, H, capacity, 64] holding `past_length`
    cached positions. Returns y [B, T, d] and the buffers with positions past_length.. written.
    Exported as ONNX Runtime's GroupQueryAttention (onnx_export/export.py)."""
    b, t, d = q.shape
    p = int(past_length)
    keys, values = key_buffer.clone(), value_buffer.clone()
    keys[:, :, p:p + t] = heads(k)
    values[:, :, p:p + t] = heads(v)
    y = attend(heads(q), keys[:, :, :p + t], values[:, :, :p + t])
    return y.transpose(1, 2).reshape(b, t, d), keys, values


@buffered_attention.register_fake
def _(q, k, v, key_buffer, value_buffer, past_length):
    return torch.empty_like(q), torch.empty_like(key_buffer), torch.empty_like(value_buffer)


class MLP(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.c_fc = Conv1D(d, 4 * d)
        self.c_proj = Conv1D(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = Attention(d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = MLP(d)

    def forward(self, x, past_k, past_v, past_length=None):
        a, k, v = self.attn(self.ln_1(x), past_k, past_v, past_length)
        x = x + a
        return x + self.mlp(self.ln_2(x)), k, v


class GPT2Stack(nn.Module):
    """GPT-2's transformer body (HF `GPT2Model` names: wte, wpe, h, ln_f)."""

    def __init__(self, d: int, layers: int, positions: int, vocab: int):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        self.h = nn.ModuleList(Block(d) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)

    def forward(self, embeds: torch.Tensor, past_keys, past_values, past_length=None):
        """embeds [B, T, d] without positions; past_* [L, B, H, P, 64] stacked, or per-layer sequences
        of [B, H, P, 64]. Returns hidden after ln_f and presents, stacked or per layer as given.
        With `past_length` (a 0-d int64 tensor) the per-layer caches are fixed-capacity buffers
        (Attention.forward)."""
        p = cache_length(past_keys) if past_length is None else past_length
        positions = torch.arange(embeds.shape[1], device=embeds.device) + p
        x = embeds + self.wpe(positions)
        keys, values = [], []
        for i, block in enumerate(self.h):
            x, k, v = block(x, past_keys[i], past_values[i], past_length)
            keys.append(k)
            values.append(v)
        if isinstance(past_keys, torch.Tensor):
            return self.ln_f(x), torch.stack(keys), torch.stack(values)
        return self.ln_f(x), tuple(keys), tuple(values)


def cache_length(past_keys) -> int:
    """Cached positions of a stacked [L, B, H, P, 64] or per-layer ([B, H, P, 64], ...) cache."""
    return past_keys.shape[3] if isinstance(past_keys, torch.Tensor) else past_keys[0].shape[2]


class PatchLevelDecoder(nn.Module):
    def __init__(self, sizes: ModelSizes):
        super().__init__()
        self.patch_embedding = nn.Linear(sizes.patch_size * VOCAB_SIZE, sizes.hidden_size)
        nn.init.normal_(self.patch_embedding.weight, std=0.02)
        # NotaGen's patch GPT-2 has vocab_size 1: one unused token row
        self.base = GPT2Stack(sizes.hidden_size, sizes.patch_num_layers, sizes.patch_length, vocab=1)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """patches [B, T, 16] char ids -> [B, T, d]; pad 0 is one-hot at index 0, as in NotaGen."""
        one_hot = F.one_hot(patches, VOCAB_SIZE).to(self.patch_embedding.weight.dtype)
        return self.patch_embedding(one_hot.flatten(2))

    def forward(self, patches, past_keys, past_values, past_length=None):
        return self.base(self.embed(patches), past_keys, past_values, past_length)


class CharLevelDecoder(nn.Module):
    def __init__(self, sizes: ModelSizes):
        super().__init__()
        self.base = nn.Module()
        self.base.transformer = GPT2Stack(sizes.hidden_size, sizes.char_num_layers, sizes.patch_size + 1, VOCAB_SIZE)
        self.base.lm_head = nn.Linear(sizes.hidden_size, VOCAB_SIZE, bias=False)
        self.base.lm_head.weight = self.base.transformer.wte.weight  # tied, as in GPT2LMHeadModel

    def forward(self, chars, patch_hidden, past_keys, past_values):
        """chars [B, T] at absolute positions P..P+T-1; position 0's input is patch_hidden [B, d]."""
        t = chars.shape[1]
        embeds = self.base.transformer.wte(chars)
        positions = torch.arange(t, device=chars.device) + cache_length(past_keys)
        first = (positions == 0).view(1, t, 1)
        embeds = torch.where(first, patch_hidden.unsqueeze(1).to(embeds.dtype), embeds)
        hidden, keys, values = self.base.transformer(embeds, past_keys, past_values)
        return self.base.lm_head(hidden), keys, values


class NotaGenModel(nn.Module):
    """Both decoders under NotaGen's names (`patch_level_decoder.*`, `char_level_decoder.*`)."""

    def __init__(self, sizes: ModelSizes):
        super().__init__()
        self.sizes = sizes
        self.patch_level_decoder = PatchLevelDecoder(sizes)
        self.char_level_decoder = CharLevelDecoder(sizes)

    def empty_cache(self, level: str, batch: int, dtype=torch.float32):
        layers = self.sizes.patch_num_layers if level == "patch" else self.sizes.char_num_layers
        shape = (layers, batch, self.sizes.num_heads, 0, HEAD_DIM)
        return torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype)

    def char_logits(self, patches: torch.Tensor) -> torch.Tensor:
        """Teacher-forced char logits for a whole piece at once (no cache).

        patches [N, 16] (bos patch first). Returns [N-1, 17, 128]: row i predicts patch i+1 from
        the patch decoder's state after patch i; position j's logits predict character j of it.
        """
        pk, pv = self.empty_cache("patch", 1, self.patch_level_decoder.patch_embedding.weight.dtype)
        hidden, _, _ = self.patch_level_decoder(patches.unsqueeze(0), pk, pv)
        targets = patches[1:]
        chars = torch.cat([torch.full_like(targets[:, :1], BOS_ID), targets], dim=1)
        ck, cv = self.empty_cache("char", targets.shape[0], hidden.dtype)
        logits, _, _ = self.char_level_decoder(chars, hidden[0, :-1], ck, cv)
        return logits


def count_parameters(state_dict: dict) -> int:
    """Parameters as NotaGen counts them: lm_head is tied to wte, so it is counted once."""
    return sum(t.numel() for k, t in state_dict.items() if not k.endswith("lm_head.weight"))
