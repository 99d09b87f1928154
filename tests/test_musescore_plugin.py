"""The MuseScore plugin on the real MuseScore 3 (Debian's mscore3), driven headless through its
batch file: reading the selection, writing results back (continue / infill / accompany), the
messages a user gets when something is wrong, and the installer command."""
from __future__ import annotations

import copy
import glob
import json
import shutil
import socket
from pathlib import Path

import pytest

from notabridge.cli.main import main as cli_main
from tests.musescore_helpers import (content, needs_mscore, parse_with_music21, run_batch, staff_measures,
                                     voices_complete)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def export(plugin_dir, score, home, start, end, staves=None, **extra) -> dict:
    report = run_batch(plugin_dir, score, {"mode": "export-only", "measures": [start, end],
                                           "staves": staves or [0], **extra}, home)
    assert report["ok"], report["message"]
    return report["excerpt"]


def result_from(excerpt: dict, moves: dict[int, int]) -> dict:
    """A result excerpt made of the score's own measures: source index -> target index."""
    by_index = {m["index"]: m for m in excerpt["measures"]}
    result = {k: v for k, v in excerpt.items() if k != "measures"}
    result["measures"] = []
    for src, dst in moves.items():
        measure = copy.deepcopy(by_index[src])
        measure["index"] = dst
        result["measures"].append(measure)
    return result


def apply(plugin_dir, score, home, tmp_path, mode, measures, result, staves=None) -> tuple[dict, Path]:
    result_file = tmp_path / "result.json"
    result_file.write_text(json.dumps(result))
    out = tmp_path / f"out_{mode}.mscx"
    report = run_batch(plugin_dir, score, {"mode": "apply-only", "apply_as": mode, "measures": measures,
                                           "staves": staves or [0], "result_file": str(result_file),
                                           "output": str(out)}, home)
    return report, out


# ------------------------------------------------------------------ reading

@needs_mscore
@pytest.mark.parametrize("name,start,end", [("chorale", 3, 5), ("rag", 4, 7), ("demo", 2, 4)])
def test_export_reads_every_staff_of_the_selected_measures(plugin_dir, scores, originals, ms_home, name, start, end):
    excerpt = export(plugin_dir, scores[name], ms_home, start, end, context_before=2)
    assert excerpt["format"] == "notabridge-excerpt" and excerpt["version"] == 2
    from notabridge.notation import validate_excerpt
    assert validate_excerpt(excerpt) == []
    assert excerpt["selection"]["start"] == start and excerpt["selection"]["end"] == end
    assert [m["index"] for m in excerpt["measures"]] == list(range(start - 2, end))
    staves = originals[name]
    assert len(excerpt["staves"]) == len(staves)
    for measure in excerpt["measures"]:
        for staff in measure["staves"]:
            expected = [(o, length, tuple(midi for midi, _ in what))
                        for o, length, what in content(staves[staff["staff"]][measure["index"]])]
            got = []
            for voice in staff["voices"]:
                offset = 0
                for ev in voice["events"]:
                    length = 4 * _frac(ev["duration"])
                    if ev["type"] == "chord":
                        got.append((offset, length, tuple(sorted(n["pitch"] for n in ev["notes"]))))
                    offset += length
                bar = 4 * _frac(measure.get("duration", measure["time"]))
                assert offset == bar, f"measure {measure['index']} staff {staff['staff']} voice {voice['voice']}"
            assert sorted(got) == expected, f"{name} measure {measure['index']} staff {staff['staff']}"


def _frac(text: str):
    from fractions import Fraction
    return Fraction(text)


@needs_mscore
def test_spelling_is_read_as_tpc(plugin_dir, scores, ms_home):
    excerpt = export(plugin_dir, scores["rag"], ms_home, 1, 2, context_before=0)   # A-flat major
    tpcs = {n["pitch"] % 12: n["tpc"] for m in excerpt["measures"] for s in m["staves"] for v in s["voices"]
            for e in v["events"] if e["type"] == "chord" for n in e["notes"]}
    assert tpcs.get(8) == 10        # A-flat, not G-sharp
    assert excerpt["measures"][0]["key"] == -4


# ------------------------------------------------------------------ writing (results made from the score itself)

@needs_mscore
@pytest.mark.parametrize("name,target,source", [("chorale", (2, 3), (6, 7)), ("rag", (3, 4), (9, 10))])
def test_infill_replaces_only_the_selected_measures(plugin_dir, scores, originals, ms_home, tmp_path, name, target, source):
    excerpt = export(plugin_dir, scores[name], ms_home, source[0], source[1] + 1, staves=[0], context_before=0)
    result = result_from(excerpt, dict(zip(source, target)))
    every_staff = list(range(len(originals[name])))
    report, out = apply(plugin_dir, scores[name], ms_home, tmp_path, "infill", [target[0], target[1] + 1], result,
                        staves=every_staff)
    assert report["ok"], report["message"]
    assert report["written"] == list(target)
    after, before = staff_measures(parse_with_music21(out, ms_home)), originals[name]
    assert len(after[0]) == len(before[0])
    for s in range(len(before)):
        for i in range(len(before[s])):
            want = before[s][dict(zip(target, source)).get(i, i)]
            assert content(after[s][i]) == content(want), f"staff {s} measure {i}"
            if i in target:
                assert voices_complete(after[s][i]) == []


@needs_mscore
def test_continue_inserts_empty_measures_instead_of_overwriting_notes(plugin_dir, scores, originals, ms_home, tmp_path):
    excerpt = export(plugin_dir, scores["chorale"], ms_home, 6, 8, staves=[0, 1, 2, 3], context_before=0)
    result = result_from(excerpt, {6: 4, 7: 5})          # two new bars after a selection of measures 2-3
    report, out = apply(plugin_dir, scores["chorale"], ms_home, tmp_path, "continue", [2, 4], result, staves=[0, 1, 2, 3])
    assert report["ok"], report["message"]
    after, before = staff_measures(parse_with_music21(out, ms_home)), originals["chorale"]
    for s in range(len(before)):
        assert len(after[s]) == len(before[s]) + 2
        for i in range(4):
            assert content(after[s][i]) == content(before[s][i])
        assert content(after[s][4]) == content(before[s][6]) and content(after[s][5]) == content(before[s][7])
        for i in range(4, len(before[s])):                 # what followed the selection, moved, untouched
            assert content(after[s][i + 2]) == content(before[s][i]), f"staff {s} measure {i}"
        for i in (4, 5):
            assert voices_complete(after[s][i]) == []


@needs_mscore
def test_continue_at_the_end_appends_measures(plugin_dir, scores, originals, ms_home, tmp_path):
    before = originals["rag"]
    last = len(before[0])
    excerpt = export(plugin_dir, scores["rag"], ms_home, 2, 5, staves=[0, 1], context_before=0)
    result = result_from(excerpt, {2: last, 3: last + 1, 4: last + 2})
    report, out = apply(plugin_dir, scores["rag"], ms_home, tmp_path, "continue", [last - 2, last], result, staves=[0, 1])
    assert report["ok"], report["message"]
    after = staff_measures(parse_with_music21(out, ms_home))
    for s in range(2):
        assert len(after[s]) == last + 3
        assert [content(m) for m in after[s][:last]] == [content(m) for m in before[s]]
        assert [content(m) for m in after[s][last:]] == [content(before[s][i]) for i in (2, 3, 4)]


@needs_mscore
def test_infill_rewrites_only_the_selected_staves(plugin_dir, scores, originals, ms_home, tmp_path):
    excerpt = export(plugin_dir, scores["chorale"], ms_home, 6, 7, staves=[0], context_before=0)
    report, out = apply(plugin_dir, scores["chorale"], ms_home, tmp_path, "infill", [2, 3], result_from(excerpt, {6: 2}),
                        staves=[1])
    assert report["ok"], report["message"]
    after, before = staff_measures(parse_with_music21(out, ms_home)), originals["chorale"]
    assert content(after[1][2]) == content(before[1][6])
    for s in (0, 2, 3):
        assert content(after[s][2]) == content(before[s][2])


@needs_mscore
def test_accompany_writes_only_the_chosen_staves(plugin_dir, scores, originals, ms_home, tmp_path):
    excerpt = export(plugin_dir, scores["chorale"], ms_home, 7, 8, staves=[0], context_before=0)
    result = result_from(excerpt, {7: 3})
    report, out = apply(plugin_dir, scores["chorale"], ms_home, tmp_path, "accompany", [3, 4], result, staves=[2, 3])
    assert report["ok"], report["message"]
    after, before = staff_measures(parse_with_music21(out, ms_home)), originals["chorale"]
    assert content(after[0][3]) == content(before[0][3]) and content(after[1][3]) == content(before[1][3])
    assert content(after[2][3]) == content(before[2][7]) and content(after[3][3]) == content(before[3][7])


@needs_mscore
def test_key_is_read_in_concert_pitch_from_a_transposing_score(plugin_dir, ms_home, tmp_path):
    found = sorted(glob.glob("/usr/share/mscore3*/demos/Brassed_Up.mscx"))   # trumpets in B-flat on top
    if not found:
        pytest.skip("MuseScore's demo Brassed_Up.mscx is missing")
    score = Path(shutil.copy(found[0], tmp_path / "brass.mscx"))
    parsed = parse_with_music21(score, ms_home)
    concert = parsed.parts[-1].toSoundingPitch().recurse().getElementsByClass("KeySignature")[0].sharps   # the tuba
    excerpt = export(plugin_dir, score, ms_home, 0, 1, context_before=0)
    assert excerpt["measures"][0]["key"] == concert


@needs_mscore
@pytest.mark.parametrize("demo", ["Brassed_Up.mscx", "Dynamic_Strings.mscx"])
def test_writing_measures_back_over_themselves_changes_nothing(plugin_dir, ms_home, tmp_path, demo):
    """MuseScore's demos: a brass quintet (transposing instruments) and strings with grace notes."""
    found = sorted(glob.glob(f"/usr/share/mscore3*/demos/{demo}"))
    if not found:
        pytest.skip(f"MuseScore's demo {demo} is missing")
    score = Path(shutil.copy(found[0], tmp_path / demo))
    excerpt = export(plugin_dir, score, ms_home, 1, 9, staves=[0], context_before=0)
    report, out = apply(plugin_dir, score, ms_home, tmp_path, "infill", [1, 9], result_from(excerpt, {i: i for i in range(1, 9)}),
                        staves=[s["index"] for s in excerpt["staves"]])
    assert report["ok"], report["message"]
    before, after = staff_measures(parse_with_music21(score, ms_home)), staff_measures(parse_with_music21(out, ms_home))
    assert [[content(m) for m in staff] for staff in after] == [[content(m) for m in staff] for staff in before]


# ------------------------------------------------------------------ failures leave the score alone

@needs_mscore
def test_a_result_that_does_not_fit_changes_nothing(plugin_dir, scores, ms_home, tmp_path):
    excerpt = export(plugin_dir, scores["chorale"], ms_home, 5, 6, context_before=0)
    result = result_from(excerpt, {5: 2})
    result["measures"][0]["staves"][0]["voices"][0]["events"].pop()      # one beat short
    original = scores["chorale"].read_bytes()
    report, out = apply(plugin_dir, scores["chorale"], ms_home, tmp_path, "infill", [2, 3], result)
    assert not report["ok"]
    assert "nothing was changed" in report["message"] and "lasts" in report["message"]
    assert not out.exists() and scores["chorale"].read_bytes() == original


@needs_mscore
def test_no_daemon_says_how_to_start_it(plugin_dir, scores, ms_home, tmp_path):
    out = tmp_path / "out.mscx"
    original = scores["chorale"].read_bytes()
    report = run_batch(plugin_dir, scores["chorale"], {"mode": "continue", "measures": [2, 4], "staves": [0],
                                                        "daemon": f"http://127.0.0.1:{free_port()}", "output": str(out)}, ms_home)
    assert not report["ok"]
    assert "not running" in report["message"] and "notabridge serve" in report["message"]
    assert "notabridge autostart install" in report["message"]
    assert not out.exists() and scores["chorale"].read_bytes() == original


@needs_mscore
def test_nothing_selected_is_reported(plugin_dir, scores, ms_home):
    report = run_batch(plugin_dir, scores["chorale"], {"mode": "export-only"}, ms_home)
    assert not report["ok"] and "Nothing is selected" in report["message"]


# ------------------------------------------------------------------ installer

def test_install_copies_each_version_its_header_and_says_how_to_enable(tmp_path, capsys):
    assert cli_main(["install-musescore-plugin", "--musescore", "4", "--dir", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    folder = tmp_path / "NotaBridge"
    assert (folder / "NotaBridge.qml").is_file() and not (folder / "NotaBridge3.qml").exists()
    assert (folder / "notabridge.js").is_file() and (folder / "ui" / "NotaBridgePanel.qml").is_file()
    assert "Enable" in said and "notabridge serve" in said
    assert "categoryCode" in (folder / "NotaBridge.qml").read_text()


def test_install_without_version_for_a_custom_folder_is_refused(tmp_path, capsys):
    assert cli_main(["install-musescore-plugin", "--dir", str(tmp_path)]) == 1
    assert "--musescore" in capsys.readouterr().err


def _serve_banner(home: Path, bundle: Path, port: int) -> str:
    """The lines `notabridge serve` prints before 'ready', run with HOME=home; then stops it."""
    import os
    import signal
    import subprocess
    import sys

    env = dict(os.environ, HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "notabridge.cli.main", "serve", "--model", str(bundle), "--http-port", str(port),
                             "--osc-port", "0", "--osc-tcp-port", "0"], cwd=Path(__file__).resolve().parents[1],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("ready"):
                break
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    return "\n".join(lines)


def test_serve_says_where_the_installed_plugin_looks(tmp_path, monkeypatch, toy_bundle, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    port = free_port()
    banner = _serve_banner(home, toy_bundle, port)
    assert f"HTTP JSON: http://127.0.0.1:{port}/" in banner
    assert "not installed" in banner and f"type http://127.0.0.1:{port} there" in banner
    # installed for MuseScore 3 with the default address: serve says the plugin asks elsewhere, and how to fix it
    assert cli_main(["install-musescore-plugin", "--musescore", "3"]) == 0
    assert "asks the daemon at http://127.0.0.1:7878" in capsys.readouterr().out
    banner = _serve_banner(home, toy_bundle, port)
    assert "asks http://127.0.0.1:7878, NOT this daemon" in banner
    assert f"install-musescore-plugin --daemon http://127.0.0.1:{port}" in banner
    # the fix it names works: the plugin's saved address is this daemon
    assert cli_main(["install-musescore-plugin", "--musescore", "3", "--daemon", str(port)]) == 0
    folder = home / "Documents/MuseScore3/Plugins/NotaBridge"
    assert json.loads((folder / "notabridge-settings.json").read_text()) == {"daemon": f"http://127.0.0.1:{port}"}
    assert f"asks http://127.0.0.1:{port}, this daemon" in _serve_banner(home, toy_bundle, port)


def test_install_refuses_a_daemon_that_is_not_an_address(tmp_path, capsys):
    assert cli_main(["install-musescore-plugin", "--musescore", "3", "--dir", str(tmp_path), "--daemon", "http://x/y"]) == 1
    assert "not a daemon address" in capsys.readouterr().err
    assert not (tmp_path / "NotaBridge").exists()
