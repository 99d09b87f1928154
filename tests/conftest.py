"""Shared fixtures, found by every test module without importing them.

- a tiny random NotaGen checkpoint and the bundle exported from it (d=128, 2 heads, 2 patch
  layers, 2 char layers, context 64 patches of 16 characters);
- the toy bundle (tests/engine_helpers.py: a tiny model trained to write valid two-voice 3/4
  bars) and a daemon on it, one per test module (a module sets DAEMON_OPTIONS for other
  ServeOptions), and the Qt panel's window connected to it (tests/panel_helpers.py);
- MuseScore 3's home, the installed plugin, real scores and an X display (tests/musescore_helpers.py).
"""
from __future__ import annotations

import glob
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

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


# ------------------------------------------------------------------ the toy model and a daemon on it

@pytest.fixture(scope="session")
def toy_bundle(tmp_path_factory) -> Path:
    """The toy bundle (trained in seconds to write valid two-voice 3/4 bars), built once per session."""
    from tests.engine_helpers import write_toy_bundle

    return write_toy_bundle(tmp_path_factory.mktemp("toy") / "bundle")


@pytest.fixture(scope="module")
def daemon(toy_bundle, request) -> Iterator[Any]:
    """A started Daemon on the toy bundle, every door on a free port, one per test module.
    The module's DAEMON_OPTIONS (ServeOptions fields, e.g. {"max_queued": 64}) are passed on."""
    from tests.daemon_helpers import running_daemon

    with running_daemon(toy_bundle, **getattr(request.module, "DAEMON_OPTIONS", {})) as d:
        yield d


@pytest.fixture(scope="session")
def toy_daemon(toy_bundle) -> Iterator[str]:
    """The URL of a daemon on the toy bundle shared by the whole session (the MuseScore end-to-end
    runs on the two-staff chorale `duo`)."""
    from tests.daemon_helpers import running_daemon

    with running_daemon(toy_bundle) as d:
        host, port = d.http.server_address[:2]
        yield f"http://{host}:{port}"


@pytest.fixture
def window(qtbot, daemon, tmp_path) -> Iterator[Any]:
    """The panel's main window (offscreen) connected to the module's daemon, whose settings are
    reset to the defaults the panel tests expect; sound goes to a RecordingSink (tests/panel_helpers.py)."""
    from tests.daemon_helpers import http_request
    from tests.panel_helpers import RecordingSink, make_window, osc_port_of

    http_request(daemon, "POST", "/settings", {"temperature": 1.2, "top_k": 9, "seed": None, "variants": 1,
                                               "bars": 4, "prompt": None})
    RecordingSink.made.clear()
    win = make_window(qtbot, osc_port_of(daemon), tmp_path / "panel.ini", sink_factory=RecordingSink)
    qtbot.waitUntil(lambda: bool(win.link.connected and win.link.capabilities), timeout=10000)
    yield win
    win.close()


# MuseScore 3's fixtures (ms_home, plugin_dir, scores, real_scores, originals, display) live beside
# the helpers they use, in tests/musescore_helpers.py, registered for every test module here.
pytest_plugins = ["tests.musescore_helpers"]
