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
        what = "rest" if el.isRest else tuple(sorted(p.midi for p in el.pitches))
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

@pytest.fixture(scope="session")
def ms_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mscore_home")


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory) -> Path:
    """The plugin as a user gets it: installed by `notabridge install-musescore-plugin`."""
    from bridge.cli import main as cli_main

    plugins = tmp_path_factory.mktemp("Plugins")
    assert cli_main(["install-musescore-plugin", "--musescore", "3", "--dir", str(plugins)]) == 0
    return plugins / "NotaBridge"


@pytest.fixture(scope="session")
def scores(tmp_path_factory, ms_home) -> dict[str, Path]:
    """Three real scores as .mscx: a Bach chorale and a piano rag from music21's corpus, and one of
    MuseScore's own demo scores."""
    if shutil.which("mscore3") is None:
        pytest.skip("MuseScore 3 (mscore3, Debian package musescore3) is not installed")
    from music21 import corpus

    folder = tmp_path_factory.mktemp("scores")
    out = {}
    for name, work in (("chorale", "bach/bwv66.6"), ("rag", "joplin/maple_leaf_rag")):
        xml = folder / f"{name}.musicxml"
        corpus.parse(work).write("musicxml", str(xml))
        out[name] = convert(xml, folder / f"{name}.mscx", ms_home)
    demos = sorted(glob.glob("/usr/share/mscore3*/demos/Fugue_1.mscx"))
    if not demos:
        pytest.skip("MuseScore's demo scores (musescore3 package) are missing")
    out["demo"] = Path(shutil.copy(demos[0], folder / "demo.mscx"))
    return out


@pytest.fixture(scope="session")
def originals(scores, ms_home) -> dict[str, list]:
    return {name: staff_measures(parse_with_music21(path, ms_home)) for name, path in scores.items()}


