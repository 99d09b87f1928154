"""The REAPER script (plugins/reaper/) against a stand-in for REAPER and a REAL daemon.

REAPER cannot run here (it is neither a Debian nor a PyPI package, and nothing else can be
downloaded on this machine or in CI), so its ReaScript API is replaced by tests.daw_helpers.FakeReaper, which offers the RPR_*
functions the script calls with REAPER's Python return shapes. Everything else is real: the
script's own entry file runs as REAPER would run it (with `reaper_python` importable and
RPR_defer driving the polling), and the daemon is `notabridge serve` in a subprocess with a tiny
model trained to write valid bars (tests/engine_helpers.py), reached over HTTP on a free port.
"""
from __future__ import annotations

import json
import os
import runpy
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from tests.daw_helpers import PPQ, FakeItem, FakeReaper, FakeTake

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "plugins" / "reaper" / "NotaBridge_Accompany.py"
# a melody as played into REAPER: 3/4, upbeat on beat 3 of the item's first bar, human timing
MELODY = [(2, 1, 67), (3, 1, 72), (4, 1, 71), (5, 1, 69), (6, 1, 67), (7, 1, 69), (8, 1, 71), (9, 3, 72)]
ITEM_START_QN = 6.0   # the item starts on the downbeat of bar 3 of the project


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(url: str, method: str = "GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def daemon(toy_bundle):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "notabridge.cli.main", "serve", "--model", str(toy_bundle),
                                "--http-port", str(port), "--osc-port", "0", "--osc-tcp-port", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _http(url + "/health")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("the daemon did not start:\n" + (process.stdout.read() if process.stdout else ""))
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=20)


def _project(fake_notes=MELODY, jitter=((0, 0),)) -> FakeReaper:
    reaper = FakeReaper(bpm=90.0, meter=(3, 4))
    reaper.add_track("Piano")
    lead = reaper.add_track("Lead")
    reaper.add_track("Drums")
    take = FakeTake()
    for index, (start, length, pitch) in enumerate(fake_notes):
        early, late = jitter[index % len(jitter)]
        take.notes.append({"start": start * PPQ + early, "end": (start + length) * PPQ + late,
                           "pitch": pitch, "vel": 90, "chan": 0})
    lead.items.append(FakeItem(position_qn=ITEM_START_QN, length_qn=12.0, take=take, selected=True))
    return reaper


def _run_script(reaper: FakeReaper, url: str, voices: int = 1, timeout: float = 120.0) -> None:
    """Run the script file as REAPER does, then REAPER's defer loop until the script stops asking."""
    sys.modules["reaper_python"] = reaper
    old = {k: os.environ.get(k) for k in ("NOTABRIDGE_URL", "NOTABRIDGE_VOICES", "NOTABRIDGE_PATH")}
    os.environ.update(NOTABRIDGE_URL=url, NOTABRIDGE_VOICES=str(voices), NOTABRIDGE_PATH=sysconfig.get_path("purelib"))
    try:
        namespace = runpy.run_path(str(SCRIPT), run_name="__main__")
        deadline = time.monotonic() + timeout
        while reaper.deferred:
            assert time.monotonic() < deadline, "the script kept polling past the test's patience"
            code = reaper.deferred.pop(0)
            time.sleep(0.03)   # REAPER's defer cycle
            eval(code, namespace)
    finally:
        sys.modules.pop("reaper_python", None)
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _snapshot(reaper: FakeReaper):
    return [(t.name, [(i.position_qn, i.length_qn, [dict(n) for n in i.take.notes]) for i in t.items]) for t in reaper.tracks]


def test_accompaniment_arrives_below_the_melody_as_one_undo_point(daemon):
    reaper = _project(jitter=((-20, 15), (10, -30), (25, 40)))
    before = _snapshot(reaper)
    _run_script(reaper, daemon)
    assert reaper.messages == [], reaper.messages
    assert [t.name for t in reaper.tracks] == ["Piano", "Lead", "NotaBridge accompaniment", "Drums"]
    item = reaper.tracks[2].items[0]
    # bar-aligned with the melody: the item spans the upbeat bar's last beat to the end of bar 4
    # of the clip (project bars 3..6), in quarter notes from the project start
    assert (item.position_qn, item.length_qn) == (ITEM_START_QN + 2.0, 10.0)
    notes = item.take.notes
    assert notes, "the accompaniment item is empty"
    assert {n["chan"] for n in notes} == {1}              # not on the melody's channel
    for n in notes:   # the upbeat (first quarter of the item) is the melody's alone
        assert 1 * PPQ <= n["start"] < n["end"] <= item.length_qn * PPQ
    # every full 3/4 bar of the melody is accompanied
    assert {int((n["start"] - PPQ) // (3 * PPQ)) for n in notes} == {0, 1, 2}
    # everything the script changed is one undo point, and undoing it restores the project
    assert reaper.undo_points == ["NotaBridge: accompaniment"]
    assert reaper.changes_outside_undo == 0
    reaper.undo()
    assert _snapshot(reaper) == before


def test_the_daemon_shared_settings_steer_the_script(daemon):
    """The Qt panel sets the daemon's shared settings; the script sends none of its own."""
    results = []
    for seed in (11, 11, 14):   # fixed seeds: under the writer's masks the toy model writes the same 3 bars for 11 and 12
        _http(daemon + "/settings", "POST", {"seed": seed, "temperature": 1.5})
        reaper = _project()
        _run_script(reaper, daemon)
        assert reaper.messages == []
        results.append(reaper.tracks[2].items[0].take.notes)
        assert f"seed {seed}" in reaper.console[0] and "temperature 1.5" in reaper.console[0]
    assert results[0] == results[1]        # same shared seed: same accompaniment
    assert results[0] != results[2]        # another seed set in the daemon: another accompaniment


def test_nothing_selected_or_no_daemon_changes_nothing_and_says_why(daemon):
    reaper = _project()
    reaper.tracks[1].items[0].selected = False
    before = _snapshot(reaper)
    _run_script(reaper, daemon)
    assert reaper.messages and "Select the MIDI item" in reaper.messages[0]
    assert _snapshot(reaper) == before and reaper.undo_points == []

    reaper = _project()
    _run_script(reaper, f"http://127.0.0.1:{_free_port()}")
    assert reaper.messages and "notabridge serve" in reaper.messages[0]
    assert _snapshot(reaper)[2][0] == "Drums" and reaper.undo_points == []


def test_an_item_that_starts_mid_bar_is_read_on_the_project_bars(daemon):
    """Bars are REAPER's, not the item's: an item starting on beat 2 of a 3/4 bar, its first note
    on beat 3, is an upbeat to the next bar line of the project."""
    reaper = FakeReaper(bpm=90.0, meter=(3, 4))
    lead = reaper.add_track("Lead")
    take = FakeTake([{"start": (s - 1) * PPQ, "end": (s - 1 + d) * PPQ, "pitch": p, "vel": 90, "chan": 0}
                     for s, d, p in MELODY])
    lead.items.append(FakeItem(position_qn=ITEM_START_QN + 1, length_qn=12.0, take=take, selected=True))
    _run_script(reaper, daemon)
    assert reaper.messages == []
    item = reaper.tracks[1].items[0]
    assert (item.position_qn, item.length_qn) == (ITEM_START_QN + 2.0, 10.0)
    assert min(n["start"] for n in item.take.notes) >= PPQ   # from the project's bar line at QN 9


# Runs in a fresh Python where NotaBridge and music21 cannot be imported, as in a REAPER whose
# Python has only mido: the script must still accompany (the daemon reads and writes the music).
_WITHOUT_NOTABRIDGE = """
import importlib.abc, json, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("notabridge", "music21"):
            raise ImportError(f"No module named {name!r} (not in REAPER's Python)")
        return None

sys.meta_path.insert(0, NotInstalled())
sys.path.insert(0, sys.argv[2])
from tests.test_daw_reaper import _project, _run_script

reaper = _project()
_run_script(reaper, sys.argv[1])
print(json.dumps({"messages": reaper.messages, "tracks": [t.name for t in reaper.tracks],
                  "notes": len(reaper.tracks[2].items[0].take.notes) if reaper.tracks[2].items else 0,
                  "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("notabridge", "music21"))}))
"""


def test_reapers_python_needs_no_notabridge_and_no_music21(daemon, tmp_path):
    runner = tmp_path / "in_reaper.py"
    runner.write_text(_WITHOUT_NOTABRIDGE)
    done = subprocess.run([sys.executable, str(runner), daemon, str(ROOT)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["messages"] == [] and outcome["loaded"] == []
    assert outcome["tracks"] == ["Piano", "Lead", "NotaBridge accompaniment", "Drums"] and outcome["notes"] > 0
