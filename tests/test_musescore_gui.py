"""GUI tier: the real MuseScore 3 window under Xvfb, NotaBridge started from the Plugins menu with
xdotool, as a user starts it. This runs the dialog's asynchronous path (XMLHttpRequest callbacks
and the progress Timer), which never runs in `mscore3 -p`. A batch file with "dialog": true fills
the dialog and presses its buttons (docs/musescore.md)."""
from __future__ import annotations

import socket

from tests.musescore_helpers import content, needs_gui, parse_with_music21, run_gui_batch, staff_measures, voices_complete


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
