"""Shared fixtures: a tiny random NotaGen checkpoint and the bundle exported from it.

Size: d=128 (2 heads), 2 patch layers, 2 char layers, context 64 patches of 16 characters.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.model_helpers import TINY_PROMPTS, write_checkpoint


@pytest.fixture
def tiny_checkpoint(tmp_path) -> Path:
    """A NotaGen-layout .pth ({'model', 'optimizer', 'epoch'}) of a tiny random model."""
    return write_checkpoint(tmp_path / "tiny.pth")


@pytest.fixture(scope="session")
def tiny_checkpoint_session(tmp_path_factory) -> Path:
    """The same checkpoint (same seed, same weights) shared by the whole session."""
    return write_checkpoint(tmp_path_factory.mktemp("checkpoint") / "tiny.pth")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_checkpoint_session) -> Path:
    """An fp32 bundle (docs/bundle.md) exported from the tiny checkpoint, with two prompts."""
    from notabridge.onnx_export.export import export_bundle

    out = tiny_checkpoint_session.parent / "tiny_bundle"
    export_bundle(tiny_checkpoint_session, out, prompts=TINY_PROMPTS, name="tiny-test")
    return out
