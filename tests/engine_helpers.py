"""A tiny NotaGen model trained in seconds to write valid bars of a toy two-voice style.

A random model writes garbage, which tests the rejection path only. This one is trained
(torch, test-only) on pieces made of a handful of 3/4 bars, so the engine's valid-bar path,
continuation, infill and accompaniment can be tested on a real bundle.
"""
from __future__ import annotations

import random
from pathlib import Path


PROMPT = "%Baroque\n%Bach, Johann Sebastian\n%Choral\n"
HEADER = "%%score [ 1 | 2 ]\nL:1/8\nM:3/4\nK:G\nV:1 treble nm=\"Upper\"\nV:2 bass nm=\"Lower\"\n"
UPPER = ["G2 A2 B2", "d6", "B2 A2 G2", "c4 B2", "A6", "G6", "B2 c2 d2", "g4 d2"]
LOWER = ["G,6", "D,6", "G,4 D,2", "C,6", "B,,6", "G,2 A,2 B,2"]


def toy_piece(rng: random.Random, bars: int = 8) -> str:
    lines = []
    for _ in range(bars):
        upper, lower = rng.choice(UPPER), rng.choice(LOWER)
        lines.append(f"[V:1]{upper}|[V:2]{lower}|\n")
    return PROMPT + HEADER + "".join(lines)


def toy_window(rng: random.Random, make_piece=toy_piece):
    """Patches of a window of up to 14 bars of a piece of 3..60 bars, `[r:i/j]` as in the whole
    piece: what the engine feeds after its context slid, so the toy model knows long pieces."""
    from notabridge.abc.patching import add_line_prefixes, piece_patches, split_piece

    piece = split_piece(make_piece(rng, rng.randint(3, 60)))
    body = add_line_prefixes(piece.body)
    start = rng.randrange(len(body)) if rng.random() < 0.5 else 0
    window = body[start:start + 14]
    ends = start + len(window) == len(body)
    return piece_patches("".join(piece.header + window), prefixes=False, add_eos=ends)


def train_toy_model(steps: int = 300, seed: int = 0, make_piece=None):
    """`make_piece(rng, bars) -> ABC text` (default toy_piece) chooses the style it learns."""
    import torch

    from notabridge.abc.patching import patches_to_ids
    from notabridge.onnx_export.model import ModelSizes, NotaGenModel

    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model trains fastest on one thread, and leaves the other core free
    rng = random.Random(seed)
    model = NotaGenModel(ModelSizes(hidden_size=128, patch_num_layers=2, char_num_layers=2, patch_length=64))
    make_piece = make_piece or toy_piece
    pieces = [torch.from_numpy(patches_to_ids(toy_window(rng, make_piece))) for _ in range(64)]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        ids = pieces[step % len(pieces)]
        logits = model.char_logits(ids)
        targets = ids[1:]
        loss = torch.nn.functional.cross_entropy(logits[:, :16].reshape(-1, 128), targets.reshape(-1), ignore_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    return model.eval(), float(loss.detach())


def write_toy_bundle(out: Path, make_piece=None, name: str = "toy-two-voices") -> Path:
    import torch

    from notabridge.onnx_export.export import export_bundle

    model, _ = train_toy_model(make_piece=make_piece)
    ckpt = out.parent / "toy.pth"
    torch.save({"model": model.state_dict()}, ckpt)
    export_bundle(ckpt, out, prompts=[("Baroque", "Bach, Johann Sebastian", "Choral")], name=name)
    return out
