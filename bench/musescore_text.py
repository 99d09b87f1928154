"""How close is the text a job from the MuseScore plugin gives the model to NotaGen's training text?

For each real score (music21 corpus works opened in MuseScore 3 through `mscore3 -o`, and
MuseScore's demo scores), the real `mscore3` runs the installed plugin headless on the whole score
(batch mode `export-only`, no context), and the excerpt it sends is turned into ABC as the daemon
turns it (`excerpt_to_abc`). The reference is NotaGen's data scripts run on the MusicXML that
MuseScore itself exports of the same score (tests/notagen_reference.py). For comparison, the
same MusicXML read by `notabridge.notation` (the file path, `read_excerpt`) is scored too.
Prints the share of identical body lines (and headers) per piece and in total.

    .venv/bin/python bench/musescore_text.py [--plugin-commit REV]

--plugin-commit REV measures the plugin as it was at a git revision (its files from `git show`),
e.g. the v1 plugin before it read ties, slurs and marks.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import io
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SCORES = [  # music21 corpus works and MuseScore demos (demo:NAME)
    "bach/bwv66.6", "bach/bwv269", "joplin/maple_leaf_rag", "mozart/k80/movement1", "haydn/opus74no1/movement1",
    "schubert/lindenbaum", "schumann_robert/dichterliebe_no2", "verdi/laDonnaEMobile", "mozart/k545/movement1_exposition",
    "demo:Fugue_1.mscx", "demo:Brassed_Up.mscx", "demo:Dynamic_Strings.mscx", "demo:Unclaimed_Gift.mscx", "demo:Reunion.mscz",
]


def plugin_files(target: Path, commit: str | None) -> Path:
    """The plugin installed as a user gets it, or its files at a git revision."""
    from notabridge.cli.main import main as cli_main

    with contextlib.redirect_stdout(io.StringIO()):
        assert cli_main(["install-musescore-plugin", "--musescore", "3", "--dir", str(target)]) == 0
    folder = target / "NotaBridge"
    if commit:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", commit, "musescore_plugin"],
                                capture_output=True, text=True, check=True).stdout.split()
        for name in listed:
            if name.endswith((".js", ".qml")):
                data = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{name}"], capture_output=True, check=True).stdout
                out = folder / Path(name).relative_to("musescore_plugin")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
    return folder


def score_files(name: str, folder: Path, home: Path) -> tuple[Path, Path]:
    """(.mscx the plugin opens, .musicxml MuseScore exports of it)."""
    from tests.musescore_helpers import convert

    stem = name.replace("/", "_").replace("demo:", "")
    if name.startswith("demo:"):
        source = Path(sorted(glob.glob(f"/usr/share/mscore3*/demos/{name[5:]}"))[0])
    else:
        from music21 import corpus

        source = folder / f"{stem}_music21.musicxml"
        corpus.parse(name).write("musicxml", str(source))
    mscx = convert(source, folder / f"{Path(stem).stem}.mscx", home)
    return mscx, convert(mscx, folder / f"{Path(stem).stem}.musicxml", home)


def measure_piece(plugin: Path, name: str, folder: Path, home: Path):
    """(plugin Match, file-path Match) against NotaGen's text of MuseScore's MusicXML export."""
    from notagen_text import compare

    from notabridge.notation import excerpt_to_abc, read_excerpt
    from tests.musescore_helpers import run_batch
    from tests.notagen_reference import reference_text

    mscx, xml = score_files(name, folder, home)
    header, bars = reference_text(xml)
    measures = len(ET.parse(xml).getroot().find("part").findall("measure"))
    report = run_batch(plugin, mscx, {"mode": "export-only", "measures": [0, measures], "context_before": 0}, home, timeout=300)
    if not report.get("ok"):
        raise RuntimeError(f"the plugin failed: {report.get('message')}")
    with contextlib.redirect_stderr(io.StringIO()):
        ours = compare(excerpt_to_abc(report["excerpt"]), header, bars)
        direct = compare(excerpt_to_abc(read_excerpt(xml)), header, bars)
    return ours, direct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin-commit", help="measure the plugin's files at this git revision")
    args = parser.parse_args()
    if shutil.which("mscore3") is None:
        print("MuseScore 3 (mscore3) is not installed: apt-get install musescore3")
        return 1
    totals = {"plugin": [0, 0, 0], "file": [0, 0, 0]}  # same lines, lines, same headers
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = folder / "home"
        home.mkdir()
        plugin = plugin_files(folder / "Plugins", args.plugin_commit)
        print(f"{'piece':36} | {'plugin: hdr  lines':22} | {'file: hdr  lines':22}")
        for name in SCORES:
            try:
                ours, direct = measure_piece(plugin, name, folder, home)
            except Exception as exc:  # NotaGen's scripts leave a piece out, or MuseScore cannot open it
                print(f"{name[:36]:36} | skipped: {type(exc).__name__}: {str(exc)[:80]}")
                continue
            row = []
            for label, match in (("plugin", ours), ("file", direct)):
                t = totals[label]
                t[0] += match.same
                t[1] += match.lines
                t[2] += match.header
                row.append(f"{'same' if match.header else 'DIFF':>6} {match.same:4}/{match.lines:<4} {100 * match.same / max(match.lines, 1):5.1f}%")
            print(f"{name[:36]:36} | {row[0]:22} | {row[1]:22}", flush=True)
    print()
    for label, (same, lines, headers) in totals.items():
        print(f"{label:6}: body lines identical {same}/{lines} ({100 * same / max(lines, 1):.1f}%), headers identical {headers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
