"""Loading NotaGen checkpoints: sizes read off the tensors, and refusal of anything else,
checked through `notabridge inspect` as a user would meet it (exit 1, one line, no traceback)."""
from __future__ import annotations

import os
import pickle

import pytest
import torch

from notabridge.onnx_export.checkpoint import load_model
from notabridge.onnx_export.model import ModelSizes, count_parameters
from tests.model_helpers import random_model, run_notabridge, write_checkpoint


def refused(path, *expected: str) -> str:
    result = run_notabridge("inspect", path)
    assert result.returncode == 1, result.stdout + result.stderr
    message = result.stderr.strip()
    assert "Traceback" not in result.stderr and len(message.splitlines()) == 1, result.stderr
    assert message.startswith("notabridge inspect:")
    for text in expected:
        assert text in message, message
    return message


def state_of(path) -> dict:
    return torch.load(path, weights_only=True)["model"]


def test_sizes_are_read_off_the_tensors(tmp_path):
    sizes = ModelSizes(hidden_size=192, patch_num_layers=3, char_num_layers=1, patch_length=40)
    path = write_checkpoint(tmp_path / "odd.pth", sizes)
    model = load_model(path)
    assert model.sizes == sizes
    saved = state_of(path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    # lm_head stays tied to the char embedding after loading, as in NotaGen
    assert model.char_level_decoder.base.lm_head.weight is model.char_level_decoder.base.transformer.wte.weight
    result = run_notabridge("inspect", path)
    assert result.returncode == 0, result.stderr
    assert "d=192 (3 heads), 3 patch layers, 1 char layers" in result.stdout
    assert "40 patches of 16 characters" in result.stdout
    assert f"{count_parameters(saved):,}" in result.stdout


def test_old_mask_buffers_and_bare_state_dicts_load(tmp_path, tiny_checkpoint):
    state = state_of(tiny_checkpoint)
    # files saved by older transformers carry the causal-mask buffers of each attention layer
    with_buffers = dict(state) | {"patch_level_decoder.base.h.0.attn.bias": torch.ones(1, 1, 64, 64),
                                  "patch_level_decoder.base.h.0.attn.masked_bias": torch.tensor(-1e4)}
    torch.save({"model": with_buffers, "epoch": 1}, tmp_path / "buffers.pth")
    torch.save(state, tmp_path / "bare.pth")
    for name in ("buffers.pth", "bare.pth"):
        model = load_model(tmp_path / name)
        assert torch.equal(model.state_dict()["patch_level_decoder.patch_embedding.weight"],
                           state["patch_level_decoder.patch_embedding.weight"])


def test_missing_key_is_named(tmp_path, tiny_checkpoint):
    state = state_of(tiny_checkpoint)
    del state["char_level_decoder.base.transformer.h.1.ln_2.bias"]
    torch.save({"model": state}, tmp_path / "missing.pth")
    refused(tmp_path / "missing.pth", "missing keys", "char_level_decoder.base.transformer.h.1.ln_2.bias")


def test_extra_key_is_named(tmp_path, tiny_checkpoint):
    state = state_of(tiny_checkpoint) | {"patch_level_decoder.base.h.0.attn.q_proj.weight": torch.zeros(128, 128)}
    torch.save({"model": state}, tmp_path / "extra.pth")
    refused(tmp_path / "extra.pth", "unexpected keys", "patch_level_decoder.base.h.0.attn.q_proj.weight")


def test_wrong_shape_is_named(tmp_path, tiny_checkpoint):
    state = state_of(tiny_checkpoint)
    state["patch_level_decoder.base.h.1.mlp.c_fc.weight"] = torch.zeros(512, 128)  # nn.Linear's layout, not Conv1D's
    torch.save({"model": state}, tmp_path / "shape.pth")
    refused(tmp_path / "shape.pth", "wrong shapes", "patch_level_decoder.base.h.1.mlp.c_fc.weight", "[512, 128]")


def test_truncated_file_is_refused(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    refused(tmp_path / "cut.pth", "truncated or corrupt")


def test_non_dict_file_is_refused(tmp_path):
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    refused(tmp_path / "list.pth", "no 'model' state dict", "list")


class RunsCode:
    """What a malicious checkpoint carries: unpickling calls os.system."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_pickle_carrying_code_is_refused_without_running_it(tmp_path, tiny_checkpoint, writer):
    marker = tmp_path / "code-ran"
    payload = {"model": state_of(tiny_checkpoint), "optimizer": RunsCode(f"touch {marker}"), "epoch": 1}
    path = tmp_path / "evil.pth"
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    refused(path, "refused to load", "could run code")
    assert not marker.exists(), "loading the checkpoint ran code from it"


def test_random_model_has_every_tensor_random():
    """The parity tests rely on LayerNorm weights and biases not being the trivial 1 and 0."""
    model = random_model()
    ln = model.char_level_decoder.base.transformer.h[0].ln_1
    assert not torch.allclose(ln.weight, torch.ones_like(ln.weight)) and ln.bias.abs().sum() > 0


def test_full_training_checkpoint_loads(tmp_path):
    """NotaGen's training script saves the model with its AdamW state, the transformers LR
    schedule and bookkeeping; all of it must pass the tensors-only loader."""
    from transformers import get_constant_schedule_with_warmup

    model = random_model(ModelSizes(hidden_size=64, patch_num_layers=1, char_num_layers=1, patch_length=8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    schedule = get_constant_schedule_with_warmup(optimizer, num_warmup_steps=1000)
    logits = model.char_logits(torch.randint(0, 128, (3, 16)))
    logits.square().mean().backward()
    optimizer.step()
    schedule.step()
    path = tmp_path / "weights_notagen.pth"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "lr_sched": schedule.state_dict(),
                "epoch": 3, "best_epoch": 2, "min_eval_loss": 1.25}, path)
    loaded = load_model(path)
    assert torch.equal(loaded.state_dict()["patch_level_decoder.base.h.0.attn.c_attn.weight"],
                       model.state_dict()["patch_level_decoder.base.h.0.attn.c_attn.weight"])
