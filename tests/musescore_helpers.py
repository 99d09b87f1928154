"""Helpers for the MuseScore plugin tests: run the real `mscore3` headless on the installed plugin
with a batch file (docs/musescore.md), prepare real scores, and compare scores with music21."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

MSCORE = shutil.which("mscore3")
needs_mscore = pytest.mark.skipif(MSCORE is None, reason="MuseScore 3 (mscore3, Debian package musescore3) is not installed")


def mscore_env(home: Path, offscreen: bool = True) -> dict[str, str]:
    """Environment that keeps MuseScore's profile inside `home` (no user profile touched)."""
    env = dict(os.environ)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_RUNTIME_DIR=str(home / "run"))
    (home / "run").mkdir(parents=True, exist_ok=True)
    os.chmod(home / "run", 0o700)
    if offscreen:
        env["QT_QPA_PLATFORM"] = "offscreen"
    else:
        env["QT_QPA_PLATFORM"] = "xcb"      # a window on the X display, whatever other tests set
        # MuseScore's window is a single instance per user, found through a socket in TMPDIR: a private
        # TMPDIR keeps another MuseScore (another test run) from taking over the file we open
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(home / "tmp")
    return env


def convert(src: Path, dst: Path, home: Path) -> Path:
    """Converts between score formats with `mscore3 -o` (e.g. .musicxml -> .mscx)."""
    proc = subprocess.run([MSCORE, "-o", str(dst), str(src)], env=mscore_env(home), capture_output=True, text=True, timeout=60)
    assert dst.is_file(), f"mscore3 could not convert {src} to {dst}: {proc.stderr[-2000:]}"
    return dst


def run_batch(plugin_dir: Path, score: Path, batch: dict[str, Any], home: Path, timeout: float = 120) -> dict:
    """Runs the installed plugin once on `score` with `batch` beside it; returns the report JSON."""
    report = Path(batch.setdefault("report", str(home / "report.json")))
    report.unlink(missing_ok=True)
    (plugin_dir / "notabridge-batch.json").write_text(json.dumps(batch))
    try:
        proc = subprocess.run([MSCORE, "-p", str(plugin_dir / "NotaBridge3.qml"), str(score)],
                              env=mscore_env(home), capture_output=True, text=True, timeout=timeout)
    finally:
        (plugin_dir / "notabridge-batch.json").unlink(missing_ok=True)
    assert report.is_file(), f"the plugin wrote no report; mscore3 said:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(report.read_text())


def parse_with_music21(score: Path, home: Path):
    """The score as music21 sees it, through MuseScore's own MusicXML export."""
    from music21 import converter

    xml = convert(score, score.with_name(score.stem + "_check.musicxml"), home)
    return converter.parse(str(xml))


def staff_measures(parsed) -> list[list]:
    """[staff][measure index] -> music21 Measure (a piano part gives two staves)."""
    return [list(part.getElementsByClass("Measure")) for part in parsed.parts]


def content(measure) -> list[tuple]:
    """What a listener and a reader notice in a measure: (offset, length, pitches or 'rest') per event."""
    events = []
    for el in measure.recurse().notesAndRests:
        if el.duration.isGrace:
            continue
        offset = Fraction(el.getOffsetInHierarchy(measure)).limit_denominator(64)
        length = Fraction(el.duration.quarterLength).limit_denominator(64)
        what = "rest" if el.isRest else tuple(sorted((p.midi, p.name) for p in el.pitches))   # pitch and spelling
        if what == "rest":
            continue        # rests are layout: MuseScore may split or merge them
        events.append((offset, length, what))
    return sorted(events)


def voices_complete(measure) -> list[str]:
    """Problems with a measure: a voice whose notes and rests do not fill the bar."""
    bar = Fraction(measure.barDuration.quarterLength).limit_denominator(64)
    voices = list(measure.voices) or [measure]
    problems = []
    for voice in voices:
        total = sum((Fraction(e.duration.quarterLength).limit_denominator(64)
                     for e in voice.notesAndRests if not e.duration.isGrace), Fraction(0))
        if total != bar:
            problems.append(f"measure {measure.number} voice {getattr(voice, 'id', 0)} lasts {total} of {bar}")
    return problems


# ------------------------------------------------------------------ GUI tier (MuseScore's window under Xvfb)

XVFB, XDOTOOL = shutil.which("Xvfb"), shutil.which("xdotool")
needs_gui = pytest.mark.skipif(MSCORE is None or XVFB is None or XDOTOOL is None,
                               reason="the GUI tier needs mscore3, Xvfb and xdotool (Debian packages musescore3, xvfb, xdotool)")


def gui_profile(home: Path, plugin_dir: Path) -> None:
    """A MuseScore 3 profile: no first-start wizard, start center or tours; the plugin enabled."""
    (home / ".config/MuseScore").mkdir(parents=True, exist_ok=True)
    (home / ".config/MuseScore/MuseScore3.ini").write_text(
        "[application]\nstartup\\firstStart=false\n"
        f"paths\\myPlugins={plugin_dir.parent}\n\n"
        "[ui]\napplication\\startup\\showStartCenter=false\napplication\\startup\\showTours=false\n"
        "application\\startup\\showSplashScreen=false\napplication\\startup\\checkUpdate=false\n"
        "application\\startup\\checkExtensionsUpdate=false\n")
    data = home / ".local/share/MuseScore/MuseScore3"
    data.mkdir(parents=True, exist_ok=True)
    (data / "plugins.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<museScore version="3.02">\n  <Plugin>\n'
        f"    <path>{plugin_dir / 'NotaBridge3.qml'}</path>\n    <load>1</load>\n  </Plugin>\n</museScore>\n")


def run_gui_batch(plugin_dir: Path, score: Path, batch: dict[str, Any], home: Path, display: str,
                  timeout: float = 180) -> dict:
    """Opens `score` in MuseScore's window, runs NotaBridge from the Plugins menu (xdotool) with a
    dialog-driving batch file beside it, and returns the report the dialog wrote."""
    import time

    gui_profile(home, plugin_dir)
    report = Path(batch.setdefault("report", str(home / "gui_report.json")))
    report.unlink(missing_ok=True)
    (plugin_dir / "notabridge-batch.json").write_text(json.dumps({**batch, "dialog": True}))
    env = mscore_env(home, offscreen=False)
    env["DISPLAY"] = display
    log = open(home / "mscore_gui.log", "w")
    proc = subprocess.Popen([MSCORE, str(score)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        window, deadline = None, time.monotonic() + 90
        while window is None:
            found = subprocess.run([XDOTOOL, "search", "--name", f"MuseScore 3: {score.stem}"], env=env,
                                   capture_output=True, text=True, timeout=20)
            window = (found.stdout.split() or [None])[0]
            if window is None:
                names = subprocess.run([XDOTOOL, "search", "--name", ".", "getwindowname", "%@"], env=env,
                                       capture_output=True, text=True, timeout=20)
                assert proc.poll() is None and time.monotonic() < deadline, (
                    f"MuseScore's score window did not appear on {display} (windows: {names.stdout.splitlines()}, "
                    f"xdotool: {names.stderr.strip()[-300:]!r}); "
                    f"MuseScore said:\n{(home / 'mscore_gui.log').read_text()[-3000:]}")
                time.sleep(0.5)
        time.sleep(1.0)           # let the score view finish its first layout
        subprocess.run([XDOTOOL, "windowactivate", "--sync", window], env=env, capture_output=True, timeout=20)
        for key in ("alt+p", "Up", "Return"):          # Plugins menu -> its last item, NotaBridge
            subprocess.run([XDOTOOL, "key", "--window", window, key], env=env, timeout=20)
            time.sleep(0.5)
        deadline = time.monotonic() + timeout
        while not report.is_file() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(0.3)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        (plugin_dir / "notabridge-batch.json").unlink(missing_ok=True)
    assert report.is_file(), f"the dialog wrote no report; MuseScore said:\n{(home / 'mscore_gui.log').read_text()[-3000:]}"
    return json.loads(report.read_text())
