"""Parity: the PyTorch model against HF transformers' GPT-2 with the same weights, and the
exported ONNX step graphs (KV caches, one step at a time) against the PyTorch model run on the
whole sequence at once. Also the bundle's files and the fp16 export on CPU."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnx.numpy_helper
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

from notabridge.engine.bundle import cache_names, load_bundle, sha256_file
from notabridge.engine.scoring import patch_nats
from notabridge.onnx_export import export as exporter
from notabridge.onnx_export.checkpoint import load_model
from tests.model_helpers import TINY, TINY_PROMPTS, random_patches

N_PATCHES = 48  # >= 40 patches, within the tiny model's 64-patch context


def hf_config(vocab: int, positions: int, layers: int) -> GPT2Config:
    return GPT2Config(vocab_size=vocab, n_positions=positions, n_embd=TINY.hidden_size, n_layer=layers,
                      n_head=TINY.num_heads, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager")


def hf_models(state: dict):
    """HF GPT2Model (patch level) and GPT2LMHeadModel (char level) holding the checkpoint's weights."""
    patch = GPT2Model(hf_config(1, TINY.patch_length, TINY.patch_num_layers)).eval()
    char = GPT2LMHeadModel(hf_config(128, TINY.patch_size + 1, TINY.char_num_layers)).eval()
    prefix_p, prefix_c = "patch_level_decoder.base.", "char_level_decoder.base."
    patch.load_state_dict({k[len(prefix_p):]: v for k, v in state.items() if k.startswith(prefix_p)}, strict=True)
    char.load_state_dict({k[len(prefix_c):]: v for k, v in state.items() if k.startswith(prefix_c)}, strict=True)
    return patch, char


@pytest.fixture(scope="module")
def model(tiny_checkpoint_session):
    return load_model(tiny_checkpoint_session)


@pytest.fixture(scope="module")
def patches():
    return random_patches(N_PATCHES, seed=1)


@torch.inference_mode()
def test_torch_model_matches_hf_gpt2(tiny_checkpoint_session, model, patches):
    state = torch.load(tiny_checkpoint_session, weights_only=True)["model"]
    hf_patch, hf_char = hf_models(state)
    one_hot = torch.nn.functional.one_hot(patches, 128).float().flatten(1)
    embeds = model.patch_level_decoder.patch_embedding(one_hot)
    hf_hidden = hf_patch(inputs_embeds=embeds[None]).last_hidden_state[0]
    k, v = model.empty_cache("patch", 1)
    hidden = model.patch_level_decoder(patches[None], k, v)[0][0]
    assert (hidden - hf_hidden).abs().max() <= 1e-5

    # NotaGen's char decoder: position 0 is the previous patch's hidden state, positions 1..16
    # the characters of the patch; HF gets the same inputs_embeds
    targets = patches[1:]
    hf_inputs = torch.cat([hf_hidden[:-1, None], hf_char.transformer.wte(targets)], dim=1)
    logits = model.char_logits(patches)
    assert logits.shape == (N_PATCHES - 1, 17, 128)
    assert (logits - hf_char(inputs_embeds=hf_inputs).logits).abs().max() <= 1e-5

    # the score is NotaGen's training loss, summed: CharLevelDecoder.forward calls the HF model
    # with labels [bos] + patch (pads -100) and an attention mask hiding the pads
    labels = torch.cat([torch.ones_like(targets[:, :1]), targets], dim=1)
    labels = labels.masked_fill(labels == 0, -100)
    loss = hf_char(inputs_embeds=hf_inputs, attention_mask=(labels != -100).long(), labels=labels).loss
    nats, counts = patch_nats(logits.numpy(), targets.numpy())
    assert counts.sum() == (labels[:, 1:] != -100).sum()
    assert abs(nats.sum() / counts.sum() - loss.item()) <= 1e-5


@torch.inference_mode()
def test_torch_buffered_cache_matches_full_sequence(model, patches):
    """The buffered-cache path the patch graph is exported from (fixed-capacity buffers and a
    past length, as the bundle's GroupQueryAttention has them) gives the full-sequence states."""
    k, v = model.empty_cache("patch", 1)
    expected = model.patch_level_decoder(patches[None], k, v)[0][0]
    layers = TINY.patch_num_layers
    keys = [torch.zeros(1, TINY.num_heads, N_PATCHES, 64) for _ in range(layers)]
    values = [torch.zeros_like(b) for b in keys]
    hidden, keys, values = model.patch_level_decoder(patches[None, :5], keys, values, torch.tensor(0))
    states = [hidden[0]]
    for i in range(5, N_PATCHES):
        hidden, keys, values = model.patch_level_decoder(patches[None, i:i + 1], keys, values, torch.tensor(i))
        states.append(hidden[0])
    assert (torch.cat(states) - expected).abs().max() <= 1e-5


def run_patch(bundle, patches: np.ndarray, cache: list, past_length: int):
    """One patch-graph run; `cache` is the per-layer buffers in graph order (key 0, value 0, ...)
    holding `past_length` patches; returns the buffers with the new patches written."""
    lengths = {"past_length": np.array(past_length, dtype=np.int64)}
    hidden, *present = bundle.patch_session.run(None, {"patches": patches} | lengths | feeds(cache))
    return hidden, present


def buffers(batch: int, capacity: int, dtype=np.float32) -> list:
    """Empty patch-graph cache: per-layer buffers of `capacity` positions."""
    return [np.zeros((batch, TINY.num_heads, capacity, 64), dtype=dtype)] * (2 * TINY.patch_num_layers)


def run_char(bundle, chars: np.ndarray, patch_hidden: np.ndarray, cache: list):
    logits, *present = bundle.char_session.run(None, {"chars": chars, "patch_hidden": patch_hidden} | feeds(cache))
    return logits, present


def feeds(cache: list) -> dict:
    return dict(zip(cache_names("past", len(cache) // 2), cache))


def empty(layers: int, batch: int, dtype=np.float32) -> list:
    return [np.zeros((batch, TINY.num_heads, 0, 64), dtype=dtype)] * (2 * layers)


def test_onnx_steps_with_caches_match_torch_full_sequence(tiny_bundle, model, patches):
    """Batch of two pieces; the patch graph gets a 10-patch prompt then one patch per step; the
    char graph decodes every patch one character per step. Every char step's logits checked."""
    bundle = load_bundle(tiny_bundle, device="cpu")
    other = random_patches(N_PATCHES, seed=2)
    batch = torch.stack([patches, other])
    with torch.inference_mode():
        expected = np.stack([model.char_logits(p).numpy() for p in batch])  # [2, N-1, 17, 128]
    ids = batch.numpy()
    hidden, cache = run_patch(bundle, ids[:, :10], buffers(2, N_PATCHES), 0)
    hiddens = [hidden]
    for i in range(10, N_PATCHES - 1):
        hidden, cache = run_patch(bundle, ids[:, i:i + 1], cache, i)
        hiddens.append(hidden)
    hiddens = np.concatenate(hiddens, axis=1)  # [2, N-1, d]: the state after each patch but the last
    assert len(cache) == 2 * TINY.patch_num_layers
    assert all(c.shape == (2, TINY.num_heads, N_PATCHES, 64) for c in cache)

    worst, steps = 0.0, 0
    for i in range(N_PATCHES - 1):
        chars = np.concatenate([np.ones((2, 1), np.int64), ids[:, i + 1]], axis=1)  # bos, then the patch
        char_cache = empty(TINY.char_num_layers, 2)
        for j in range(17):
            logits, char_cache = run_char(bundle, chars[:, j:j + 1], hiddens[:, i], char_cache)
            worst = max(worst, float(np.abs(logits[:, 0] - expected[:, i, j]).max()))
            steps += 1
    assert steps == (N_PATCHES - 1) * 17
    assert worst <= 1e-4, f"max abs logit difference {worst}"


def test_bundle_files_follow_the_format(tiny_bundle, tiny_checkpoint_session):
    config = json.loads((tiny_bundle / "config.json").read_text())
    assert config["format"] == "notabridge-bundle" and config["format_version"] == 3
    assert (config["hidden_size"], config["patch_num_layers"], config["char_num_layers"], config["patch_length"]) == (
        TINY.hidden_size, TINY.patch_num_layers, TINY.char_num_layers, TINY.patch_length)
    assert config["num_heads"] == 2 and config["head_dim"] == 64 and config["precision"] == "fp32"
    assert config["source"]["sha256"] == sha256_file(tiny_checkpoint_session)
    for entry in config["graphs"].values():
        assert sha256_file(tiny_bundle / entry["file"]) == entry["sha256"]
        assert "data" not in entry  # small graphs are single files
    assert json.loads((tiny_bundle / "prompts.json").read_text()) == [list(p) for p in TINY_PROMPTS]
    assert "tiny.pth" in (tiny_bundle / "MODEL_CARD.md").read_text()

    patch = onnx.load(str(tiny_bundle / "patch_decoder.onnx"))
    assert [v.name for v in patch.graph.input] == ["patches", "past_length", "past_key_0", "past_value_0",
                                                   "past_key_1", "past_value_1"]
    # the cache is updated in place by ONNX Runtime's attention op, one per layer
    assert [n.op_type for n in patch.graph.node].count("GroupQueryAttention") == TINY.patch_num_layers

    graph = onnx.load(str(tiny_bundle / "char_decoder.onnx"))
    io = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
          for v in list(graph.graph.input) + list(graph.graph.output)}
    assert io["chars"] == ["batch", "new_chars"] and io["patch_hidden"] == ["batch", 128]
    assert [v.name for v in graph.graph.input] == ["chars", "patch_hidden", "past_key_0", "past_value_0",
                                                   "past_key_1", "past_value_1"]
    assert [v.name for v in graph.graph.output] == ["logits", "present_key_0", "present_value_0",
                                                    "present_key_1", "present_value_1"]
    assert io["past_key_1"] == ["batch", 2, "past_length", 64]
    assert io["logits"][0] == "batch" and io["logits"][2] == 128
    assert io["present_value_1"][2] not in ("", 0, 1)  # a symbolic length
    # lm_head is tied to the char embedding: the graph holds that matrix once, not twice
    wte = torch.load(tiny_checkpoint_session, weights_only=True)["model"]["char_level_decoder.base.lm_head.weight"]
    copies = [t for t in graph.graph.initializer
              if list(t.dims) == list(wte.shape) and np.array_equal(onnx.numpy_helper.to_array(t), wte.numpy())]
    assert len(copies) == 1


def test_graph_over_the_single_file_limit_keeps_weights_in_a_data_file(tmp_path, tiny_checkpoint, monkeypatch):
    """NotaGen-X's graphs are close to protobuf's 2 GB limit; a graph over it is written with an
    external data file listed in config.json. The limit is lowered here to take that path."""
    monkeypatch.setattr(exporter, "_SINGLE_FILE_LIMIT", 1024)
    config = exporter.export_bundle(tiny_checkpoint, tmp_path / "big")
    for entry in config["graphs"].values():
        data = tmp_path / "big" / entry["data"]["file"]
        assert data.stat().st_size > (tmp_path / "big" / entry["file"]).stat().st_size
        assert sha256_file(data) == entry["data"]["sha256"]
    bundle = load_bundle(tmp_path / "big", device="cpu")
    hidden, _ = run_patch(bundle, random_patches(5).numpy()[None], buffers(1, 5), 0)
    with torch.inference_mode():
        k, v = load_model(tiny_checkpoint).empty_cache("patch", 1)
        expected = load_model(tiny_checkpoint).patch_level_decoder(random_patches(5)[None], k, v)[0].numpy()
    assert np.abs(hidden - expected).max() <= 1e-4


def test_fp16_bundle_runs_in_onnxruntime_on_cpu(tmp_path, tiny_checkpoint, tiny_bundle, model, patches):
    config = exporter.export_bundle(tiny_checkpoint, tmp_path / "half", fp16=True)
    assert config["precision"] == "fp16"
    bundle = load_bundle(tmp_path / "half", device="cpu")
    ids = patches[:12].numpy()
    hidden, cache = run_patch(bundle, ids[None], buffers(1, 12, np.float16), 0)
    assert hidden.dtype == np.float16 and cache[0].dtype == np.float16
    chars = np.concatenate([np.ones((11, 1), np.int64), ids[1:]], axis=1)
    logits, _ = run_char(bundle, chars, hidden[0, :-1], empty(TINY.char_num_layers, 11, np.float16))
    with torch.inference_mode():
        expected = model.char_logits(patches[:12]).numpy()
    assert logits.dtype == np.float16
    # half precision: agreement to about 1e-3 of the logits' scale
    assert np.abs(logits.astype(np.float32) - expected).max() <= 2e-2 * np.abs(expected).max()
    half_size = sum((tmp_path / "half" / g["file"]).stat().st_size for g in config["graphs"].values())
    full_size = sum((tiny_bundle / g["file"]).stat().st_size for g in config["graphs"].values())
    assert half_size < 0.6 * full_size
