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


# ------------------------------------------------------------------ MuseScore 3 (tests/musescore_helpers.py)

@pytest.fixture(scope="session")
def ms_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mscore_home")


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory) -> Path:
    """The plugin as a user gets it: installed by `notabridge install-musescore-plugin`."""
    from notabridge.cli.main import main as cli_main

    plugins = tmp_path_factory.mktemp("Plugins")
    assert cli_main(["install-musescore-plugin", "--musescore", "3", "--dir", str(plugins)]) == 0
    return plugins / "NotaBridge"


@pytest.fixture(scope="session")
def scores(tmp_path_factory, ms_home) -> dict[str, Path]:
    """Three real scores as .mscx: a Bach chorale and a piano rag from music21's corpus, and one of
    MuseScore's own demo scores."""
    if shutil.which("mscore3") is None:
        pytest.skip("MuseScore 3 (mscore3, Debian package musescore3) is not installed")
    from music21 import corpus, stream

    from tests.musescore_helpers import convert

    folder = tmp_path_factory.mktemp("scores")
    out = {}
    for name, work in (("chorale", "bach/bwv66.6"), ("rag", "joplin/maple_leaf_rag")):
        xml = folder / f"{name}.musicxml"
        corpus.parse(work).write("musicxml", str(xml))
        out[name] = convert(xml, folder / f"{name}.mscx", ms_home)
    # soprano and bass of a 3/4 chorale: a real score the engine's toy test model can write for
    duo = corpus.parse("bach/bwv122.6")
    stream.Score([duo.parts[0], duo.parts[-1]]).write("musicxml", str(folder / "duo.musicxml"))
    out["duo"] = convert(folder / "duo.musicxml", folder / "duo.mscx", ms_home)
    demos = sorted(glob.glob("/usr/share/mscore3*/demos/Fugue_1.mscx"))
    if not demos:
        pytest.skip("MuseScore's demo scores (musescore3 package) are missing")
    out["demo"] = Path(shutil.copy(demos[0], folder / "demo.mscx"))
    return out


@pytest.fixture(scope="session")
def originals(scores, ms_home) -> dict[str, list]:
    """The scores as music21 reads them before any edit, [staff][measure]."""
    from tests.musescore_helpers import parse_with_music21, staff_measures

    return {name: staff_measures(parse_with_music21(path, ms_home)) for name, path in scores.items()}


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """A private X server for MuseScore's window. A display is ours only if our Xvfb still runs once
    its socket exists (another test run may have taken the number first)."""
    from tests.musescore_helpers import XVFB

    for number in random.Random().sample(range(200, 900), 20):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        proc = subprocess.Popen([XVFB, f":{number}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while proc.poll() is None and not Path(f"/tmp/.X11-unix/X{number}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        if proc.poll() is None and Path(f"/tmp/.X11-unix/X{number}").exists():
            break
        proc.kill()
        proc.wait()
    else:
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)
