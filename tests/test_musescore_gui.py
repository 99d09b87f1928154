"""GUI tier: the real MuseScore 3 window under Xvfb, NotaBridge started from the Plugins menu with
xdotool, as a user starts it. This runs the dialog's asynchronous path (XMLHttpRequest callbacks
and the progress Timer), which never runs in `mscore3 -p`. A batch file with "dialog": true fills
the dialog and presses its buttons (docs/musescore.md)."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.musescore_helpers import (content, needs_gui, parse_with_music21, run_batch, run_gui_batch, staff_measures,
                                     voices_complete)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_gui
def test_dialog_without_daemon_says_how_to_start_it(plugin_dir, scores, display, tmp_path):
    out = tmp_path / "out.mscx"
    report = run_gui_batch(plugin_dir, scores["chorale"], {"mode": "continue", "measures": [2, 4], "staves": [0],
                                                          "daemon": f"http://127.0.0.1:{closed_port()}",
                                                          "output": str(out)}, tmp_path / "home", display)
    assert report["dialog"] and not report["ok"]
    assert "not running" in report["message"] and "notabridge serve" in report["message"]
    assert not out.exists()


@needs_gui
def test_dialog_continue_keeps_the_chosen_variant(plugin_dir, scores, originals, ms_home, display, toy_daemon, tmp_path):
    """Generate two variants, step to the second (the first is undone), Keep, save."""
    out = tmp_path / "out.mscx"
    report = run_gui_batch(plugin_dir, scores["duo"], {"mode": "continue", "measures": [4, 6], "staves": [0, 1],
                                                      "daemon": toy_daemon, "output": str(out), "variant": 1,
                                                      "settings": {"bars": 2, "variants": 2, "seed": 5}},
                           tmp_path / "home", display)
    assert report["ok"], report["message"]
    assert report["variants"] == 2 and report["kept"] == 1 and report["written"] == [6, 7]
    before, after = originals["duo"], staff_measures(parse_with_music21(out, ms_home))
    for s in range(len(before)):
        assert len(after[s]) == len(before[s]) + 2        # one variant's bars, not both
        assert [content(m) for m in after[s][:6]] == [content(m) for m in before[s][:6]]
        assert [content(m) for m in after[s][8:]] == [content(m) for m in before[s][6:]]
        assert voices_complete(after[s][6]) == [] and voices_complete(after[s][7]) == []


@pytest.fixture
def held_daemon(toy_bundle):
    """A daemon on the toy model whose jobs run only once they are cancelled (the real compose then
    stops at its first bar): a job that is certain to be under way when the dialog's Cancel lands."""
    from notabridge.jobs.compose import compose
    from notabridge.daemon.app import Daemon, ServeOptions
    from notabridge.engine import Engine

    def held(job, engine, progress, cancel):
        cancel.wait(120)
        return compose(job, engine, progress, cancel)

    daemon = Daemon(Engine(toy_bundle, device="cpu"),
                    ServeOptions(http_port=0, osc_port=None, osc_tcp_port=None), compose=held, say=lambda line: None)
    daemon.start()
    try:
        host, port = daemon.http.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        daemon.stop()


@needs_gui
def test_dialog_cancel_stops_the_job_and_the_typed_address_is_kept(scores, display, held_daemon, tmp_path):
    """Cancel posts a body ("{}") and the progress poll follows on the same kept-alive connection:
    the dialog must say the job was cancelled, not show an HTTP error. The daemon address typed in
    the dialog is saved: the next run, which names no address, asks the same daemon."""
    from notabridge.cli.main import main as cli_main

    assert cli_main(["install-musescore-plugin", "--musescore", "3", "--dir", str(tmp_path / "Plugins")]) == 0
    plugin = tmp_path / "Plugins" / "NotaBridge"
    out = tmp_path / "out.mscx"
    original = scores["duo"].read_bytes()
    report = run_gui_batch(plugin, scores["duo"], {"mode": "continue", "measures": [4, 6], "staves": [0, 1],
                                                  "daemon": held_daemon, "output": str(out), "cancel": True,
                                                  "settings": {"bars": 2, "variants": 1, "seed": 5}},
                           tmp_path / "home", display)
    assert report["dialog"] and not report["ok"]
    assert report["message"] == "Cancelled. The score was not changed.", report["message"]
    assert report["written"] == [] and not out.exists() and scores["duo"].read_bytes() == original
    assert json.loads((plugin / "notabridge-settings.json").read_text()) == {"daemon": held_daemon}
    # no address in this request: the saved one is asked (the held job outlasts the 2 s limit)
    report = run_batch(plugin, scores["duo"], {"mode": "continue", "measures": [4, 6], "staves": [0, 1],
                                               "output": str(out), "timeout": 2, "settings": {"bars": 1}},
                       tmp_path / "home")
    assert report["message"] == "The job took longer than 2 s and was cancelled. The score was not changed."
    assert not out.exists()


@needs_gui
def test_dialog_write_with_ties_then_one_ctrl_z_restores_the_score(plugin_dir, real_scores, ms_home, display, tmp_path):
    """In MuseScore's window: a result with ties (written through the scratch copy, MuseScore's
    tie command and one paste) previewed by the dialog and kept; then Ctrl+Z once and Ctrl+S as a
    user would: the saved score is the score before the job."""
    import shutil

    from tests.test_musescore_writes import export, result_from, without_beam_settings

    score = Path(shutil.copy(real_scores["chorale"], tmp_path / "chorale.mscx"))
    before_measures = staff_measures(parse_with_music21(score, ms_home))
    excerpt = export(plugin_dir, score, ms_home, 6, 8, [0, 1, 2, 3])
    result = result_from(excerpt, {6: 2, 7: 3}, before_measures)
    assert any(n["tie"] for m in result["measures"] for s in m["staves"] for v in s["voices"]
               for e in v["events"] for n in e.get("notes", [])), "the result should hold a tie"
    (tmp_path / "result.json").write_text(json.dumps(result))
    before, out = tmp_path / "before.mscx", tmp_path / "kept.mscx"
    report = run_gui_batch(plugin_dir, score, {"mode": "infill", "apply_as": "infill", "measures": [2, 4],
                                              "staves": [0, 1, 2, 3], "result_file": str(tmp_path / "result.json"),
                                              "before_output": str(before), "output": str(out)},
                           tmp_path / "home", display, keys_after=("ctrl+z", "ctrl+s"), saved_after=score)
    assert report["ok"], report["message"]
    assert report["written"] == [2, 3]
    kept = staff_measures(parse_with_music21(out, ms_home))
    assert [m.recurse().notes.first().pitch.midi for m in kept[0][2:4]] == \
        [m.recurse().notes.first().pitch.midi for m in before_measures[0][6:8]]
    assert without_beam_settings(score.read_text()) == without_beam_settings(before.read_text()), \
        "after one Ctrl+Z the saved score differs from the score before the job"
