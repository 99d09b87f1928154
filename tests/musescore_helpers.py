"""Helpers for the MuseScore plugin tests: run the real `mscore3` headless on the installed plugin
with a batch file (docs/musescore.md), prepare real scores, and compare scores with music21."""
from __future__ import annotations

import glob
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


# ------------------------------------------------------------------ fixtures (imported by the test modules)

# Session fixtures imported into several test modules run once per module; what is slow to make
# is kept here so it is made once per test session.
_BUILT: dict[str, Any] = {}

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

    if "scores" in _BUILT:            # several test modules import this fixture: build once
        return _BUILT["scores"]
    folder = tmp_path_factory.mktemp("scores")
    out = _BUILT["scores"] = {}
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


# (name, source): MuseScore's demos as shipped, and music21 corpus works converted with `mscore3 -o`
REAL_SCORES = [
    ("chorale", "bach/bwv66.6"),                  # 4 staves, pickup, ties
    ("rag", "joplin/maple_leaf_rag"),             # piano, pickup, ties, several voices
    ("mozart", "mozart/k80/movement1"),           # string quartet, triplets, ties
    ("lindenbaum", "schubert/lindenbaum"),        # voice and piano, triplets everywhere
    ("fugue", "demo:Fugue_1.mscx"),               # 4 staves, whole-bar rests
    ("brass", "demo:Brassed_Up.mscx"),            # transposing instruments
    ("strings", "demo:Dynamic_Strings.mscx"),     # grace notes, whole-bar rests
    ("gift", "demo:Unclaimed_Gift.mscx"),         # piano, pickup, voltas, ties
    ("reunion", "demo:Reunion.mscz"),             # a tuplet, ties, pickup
]


@pytest.fixture(scope="session")
def real_scores(tmp_path_factory, ms_home) -> dict[str, Path]:
    """Nine real scores as .mscx files (REAL_SCORES), made once per session."""
    if shutil.which("mscore3") is None:
        pytest.skip("MuseScore 3 (mscore3, Debian package musescore3) is not installed")
    if "real" in _BUILT:
        return _BUILT["real"]
    from music21 import corpus

    folder = tmp_path_factory.mktemp("real_scores")
    out = {}
    for name, source in REAL_SCORES:
        if source.startswith("demo:"):
            found = sorted(glob.glob(f"/usr/share/mscore3*/demos/{source[5:]}"))
            if not found:
                pytest.skip(f"MuseScore's demo {source[5:]} (musescore3 package) is missing")
            out[name] = convert(Path(found[0]), folder / f"{name}.mscx", ms_home)
        else:
            xml = folder / f"{name}.musicxml"
            corpus.parse(source).write("musicxml", str(xml))
            out[name] = convert(xml, folder / f"{name}.mscx", ms_home)
    _BUILT["real"] = out
    return out


PROBES = Path(__file__).resolve().parent / "musescore_probes"


def run_probe(plugin_dir: Path, probe: str, score: Path, job: dict[str, Any], home: Path, timeout: float = 300) -> Any:
    """Runs a test probe (tests/musescore_probes/<probe>.qml, which uses the installed plugin's
    notabridge.js) on `score` with `job` beside it; returns what the probe wrote."""
    shutil.copy(PROBES / f"{probe}.qml", plugin_dir / f"{probe}.qml")
    output = home / f"{probe}_out.json"
    output.unlink(missing_ok=True)
    (plugin_dir / f"{probe}.json").write_text(json.dumps({**job, "output": str(output)}))
    proc = subprocess.run([MSCORE, "-p", str(plugin_dir / f"{probe}.qml"), str(score)],
                          env=mscore_env(home), capture_output=True, text=True, timeout=timeout)
    assert output.is_file(), f"the probe wrote nothing; mscore3 said:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(output.read_text())


@pytest.fixture(scope="session")
def originals(scores, ms_home) -> dict[str, list]:
    """The scores as music21 reads them before any edit, [staff][measure]."""
    if "originals" not in _BUILT:
        _BUILT["originals"] = {name: staff_measures(parse_with_music21(path, ms_home)) for name, path in scores.items()}
    return _BUILT["originals"]


# ------------------------------------------------------------------ GUI tier (MuseScore's window under Xvfb)

XVFB, XDOTOOL = shutil.which("Xvfb"), shutil.which("xdotool")
needs_gui = pytest.mark.skipif(MSCORE is None or XVFB is None or XDOTOOL is None,
                               reason="the GUI tier needs mscore3, Xvfb and xdotool (Debian packages musescore3, xvfb, xdotool)")


@pytest.fixture
def display():
    """A private X server for MuseScore's window, one per test (an X server that MuseScore took down
    in one test must not fail the next). Xvfb picks a free display number itself (-displayfd), so
    another test run or X server can never take the same one."""
    import select

    read_fd, write_fd = os.pipe()
    # -noreset: by default an X server resets when its last client leaves, and a client that
    # connects during that reset is refused; xdotool's polling disconnects while MuseScore is
    # still starting, so MuseScore once found the display "not there" (could not connect to :0)
    proc = subprocess.Popen([XVFB, "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp",
                             "-noreset"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_fd,))
    os.close(write_fd)
    number = b""
    while not number.endswith(b"\n") and select.select([read_fd], [], [], 20)[0]:
        chunk = os.read(read_fd, 16)
        if not chunk:
            break
        number += chunk
    os.close(read_fd)
    if proc.poll() is not None or not number.strip():
        proc.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number.decode().strip()}"
    proc.terminate()
    proc.wait(timeout=10)


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
                  timeout: float = 180, keys_after: tuple[str, ...] = (), saved_after: Path | None = None) -> dict:
    """Opens `score` in MuseScore's window, runs NotaBridge from the Plugins menu (xdotool) with a
    dialog-driving batch file beside it, and returns the report the dialog wrote. keys_after: keys
    then pressed in the score window (e.g. ctrl+z, ctrl+s), waiting until `saved_after` changes."""
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
        if keys_after and report.is_file():
            stamp = saved_after.stat().st_mtime_ns if saved_after and saved_after.exists() else None
            time.sleep(1.0)              # the dialog closes; the score window has the focus again
            subprocess.run([XDOTOOL, "windowactivate", "--sync", window], env=env, capture_output=True, timeout=20)
            for key in keys_after:
                subprocess.run([XDOTOOL, "key", "--window", window, key], env=env, timeout=20)
                time.sleep(1.0)
            deadline = time.monotonic() + 30
            while saved_after and time.monotonic() < deadline and \
                    (not saved_after.exists() or saved_after.stat().st_mtime_ns == stamp):
                time.sleep(0.2)
            time.sleep(0.5)
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
