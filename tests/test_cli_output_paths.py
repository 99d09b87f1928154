"""A bad output path is a one-line message before any work, for every command that writes one
(`notabridge accompany/generate/continue/convert/export`): no traceback, no model run."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daw_helpers import write_melody

ROOT = Path(__file__).resolve().parents[1]
# the 3/4 tune of tests/test_daw_accompany.py, in the style the toy model knows
WALTZ = [(i, 1, p) for i, p in enumerate([67, 69, 71, 74, 74, 74, 71, 69, 67, 72, 72, 71])] + [(12, 3, 67)]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notabridge.cli.main", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def _bad_places(tmp_path: Path) -> list[tuple[Path, str]]:
    a_file = tmp_path / "some-file"
    a_file.write_text("not a folder")
    folder = tmp_path / "a-folder.mid"
    folder.mkdir()
    return [(a_file / "out.mid", "is a file, not a folder"), (a_file / "deeper" / "out.mid", "is a file, not a folder"),
            (folder, "that is a folder")]


def test_accompany_checks_the_output_before_running_the_model(tmp_path, toy_bundle):
    melody = write_melody(tmp_path / "melody.mid", WALTZ, meter=(3, 4), bpm=96, key="G")
    for output, message in _bad_places(tmp_path):
        start = time.monotonic()
        done = _cli("accompany", str(melody), "-o", str(output), "--model", str(toy_bundle))
        assert done.returncode == 1, done
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert "melody:" not in done.stdout and "bar " not in done.stdout   # nothing was read or composed
        assert time.monotonic() - start < 60
    good = tmp_path / "new" / "folder" / "out.mid"   # missing folders are made
    done = _cli("accompany", str(melody), "-o", str(good), "--model", str(toy_bundle), "--voices", "1", "--seed", "5",
                "--prompt", "Baroque|Bach, Johann Sebastian|Choral")
    assert done.returncode == 0 and good.is_file(), done.stderr


@pytest.mark.parametrize("command", [["generate", "--bars", "2"], ["continue", "SCORE", "--bars", "1"],
                                     ["infill", "SCORE", "--measures", "1-1"], ["accompany", "SCORE", "--staves", "1"]])
def test_generate_and_continue_check_the_output_first(tmp_path, toy_bundle, command):
    from tests.daemon_helpers import toy_excerpt
    import json

    score = tmp_path / "score.json"
    score.write_text(json.dumps(toy_excerpt()))
    args = [str(score) if a == "SCORE" else a for a in command]
    a_file = tmp_path / "some-file"
    a_file.write_text("x")
    done = _cli(*args, "-o", str(a_file / "out.musicxml"), "--model", str(toy_bundle))
    assert done.returncode == 1 and "is a file, not a folder" in done.stderr and "Traceback" not in done.stderr
    assert "variant" not in done.stdout


def test_convert_and_export_check_their_outputs(tmp_path):
    from tests.daemon_helpers import toy_excerpt
    import json

    score = tmp_path / "score.json"
    score.write_text(json.dumps(toy_excerpt()))
    a_file = tmp_path / "some-file"
    a_file.write_text("x")
    done = _cli("convert", str(score), str(a_file / "out.abc"))
    assert done.returncode == 1 and "is a file, not a folder" in done.stderr and "Traceback" not in done.stderr
    done = _cli("export", str(tmp_path / "missing.pth"), str(a_file / "bundle"))
    assert done.returncode == 1 and "is a file, not a folder" in done.stderr and "Traceback" not in done.stderr
