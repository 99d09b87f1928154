"""How close is the text we give the model to NotaGen's training text? Per piece and in total.

For each score of a mixed set of real scores (music21's corpus: chorales, quartets, songs,
keyboard, madrigals, medieval, Palestrina from Humdrum and folk tunes from ABC through music21;
MuseScore 3's demo scores through `mscore3 -o`), the reference is NotaGen's data scripts run on
the MusicXML file (tests/notagen_reference.py). Compared with it, line by line:
- `convert`: `notabridge convert score.musicxml out.abc` (the file path of the CLI/daemon);
- `excerpt`: the score read into excerpt JSON, then excerpt -> ABC (what compose feeds the
  engine for a MuseScore selection or an excerpt file).
Prints the share of identical headers and body lines, and whether a key mode (K:F#min, K:Ddor)
arrives. A bar where every voice rests is left out of the line counts (NotaGen has no line
there; we keep V:1's rest so that lines stay bars) and counted on its own.

    .venv/bin/python bench/notagen_text.py [--quick]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CORPUS = [  # (kind, music21 corpus work)
    ("chorale", "bach/bwv66.6"), ("chorale", "bach/bwv269"), ("chorale", "bach/bwv1.6"),
    ("quartet", "mozart/k80/movement1"), ("quartet", "haydn/opus74no1/movement1"),
    ("quartet", "beethoven/opus59no1/movement1"), ("quartet", "mozart/k155/movement1"),
    ("trio sonata", "corelli/opus3no1/1grave"),
    ("song", "schumann_robert/dichterliebe_no2"), ("song", "schubert/lindenbaum"), ("song", "verdi/laDonnaEMobile"),
    ("song", "liliuokalani/aloha_oe"), ("song", "johnson_j_r/lift_every_voice"),
    ("keyboard", "joplin/maple_leaf_rag"), ("keyboard", "mozart/k545/movement1_exposition"),
    ("keyboard", "schumann_clara/polonaise_op1n2"), ("keyboard", "cpebach/h186"), ("keyboard", "bach/bwv846"),
    ("keyboard", "schoenberg/opus19/movement2"), ("keyboard (krn)", "chopin/mazurka06-2"),
    ("madrigal", "monteverdi/madrigal.3.1"), ("medieval", "luca/gloria"), ("medieval", "trecento/Fava_Dicant_nunc_iudei"),
    ("lead sheet", "leadSheet/berlinAlexandersRagtime"),
    ("mass (krn)", "palestrina/Agnus_01"), ("mass (krn)", "palestrina/Kyrie_03"),
    ("folk (abc)", "essenFolksong/altdeu10"), ("folk (abc)", "oneills1850/0001-0050"),
]
DEMOS = Path("/usr/share/mscore3-3.2/demos")
QUICK = {"bach/bwv66.6", "mozart/k80/movement1", "schumann_robert/dichterliebe_no2", "joplin/maple_leaf_rag",
         "palestrina/Agnus_01", "essenFolksong/altdeu10"}


@dataclass
class Score:
    kind: str
    name: str
    path: Path


@dataclass
class Match:
    header: bool = False
    lines: int = 0
    same: int = 0
    key_mode: bool | None = None  # None: the piece has no mode beyond major
    error: str = ""


def _musicxml(work: str, folder: Path) -> Path:
    from music21 import converter, corpus

    path = corpus.getWork(work)
    paths = path if isinstance(path, list) else [path]
    xml = [Path(p) for p in paths if Path(p).suffix in (".mxl", ".xml", ".musicxml")]
    if xml:
        return xml[0]
    source = Path(paths[0])
    out = folder / (work.replace("/", "_") + ".musicxml")
    if source.suffix == ".abc":  # the first tune of a collection
        number = re.search(r"^X:\s*(\d+)", source.read_text(encoding="latin-1"), re.M)
        score = converter.parse(source, number=int(number.group(1)) if number else 1)
    else:
        score = converter.parse(source)
    score.write("musicxml", fp=str(out))
    return out


def scores(folder: Path, quick: bool) -> list[Score]:
    out = [Score(kind, work, _musicxml(work, folder)) for kind, work in CORPUS if not quick or work in QUICK]
    mscore = shutil.which("mscore3")
    if mscore and DEMOS.is_dir() and not quick:
        home = folder / "home"
        home.mkdir(exist_ok=True)
        env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(home), "PATH": "/usr/bin:/bin"}
        for demo in sorted(DEMOS.glob("*.msc[xz]")):
            target = folder / (demo.stem + ".musicxml")
            subprocess.run([mscore, "-o", str(target), str(demo)], env=env, capture_output=True, timeout=180)
            if target.is_file():
                out.append(Score("MuseScore demo", demo.stem, target))
    return out


def _key(header: list[str]) -> str:
    return next((line[2:].strip() for line in header if line.startswith("K:")), "")


def compare(ours: str, header: list[str], bars: list[str]) -> Match:
    lines = ours.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(("[V:", "[r:"))), len(lines))
    our_header, our_bars = lines[:start], lines[start:]
    match = Match(header=our_header == header)
    for i, bar in enumerate(bars):
        if not bar:
            continue
        match.lines += 1
        match.same += i < len(our_bars) and our_bars[i] == bar
    key = _key(header)
    mode = re.match(r"[A-G][#b]?(\S*)", key)
    if mode and mode.group(1):  # a mode after the tonic: Am, F#min, Ddor ...
        match.key_mode = _key(our_header) == key
    return match


def run_piece(score: Score) -> tuple[Match | None, Match, Match, int]:
    from notabridge.cli.main import main
    from notabridge.notation import excerpt_to_abc, read_excerpt
    from tests.notagen_reference import reference_text

    try:
        header, bars = reference_text(score.path)
    except Exception as exc:  # NotaGen's scripts leave the piece out
        return None, Match(error=f"NotaGen drops it ({type(exc).__name__}: {str(exc)[:60]})"), Match(), 0
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.abc"
        try:
            code = main(["convert", str(score.path), str(out)])
            converted = compare(out.read_text(encoding="utf-8"), header, bars) if code == 0 else Match(error="convert failed")
        except Exception as exc:
            converted = Match(error=f"{type(exc).__name__}: {exc}")
    try:
        excerpt = compare(excerpt_to_abc(read_excerpt(score.path)), header, bars)
    except Exception as exc:
        excerpt = Match(error=f"{type(exc).__name__}: {str(exc)[:80]}")
    return Match(), converted, excerpt, sum(1 for b in bars if not b)


def _share(same: int, total: int) -> str:
    return f"{100 * same / total:5.1f}%" if total else "  n/a"


def main() -> int:
    import contextlib
    import io

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="six pieces instead of the whole set")
    args = parser.parse_args()
    totals = {"convert": [0, 0, 0, 0, 0], "excerpt": [0, 0, 0, 0, 0]}  # headers, pieces, same, lines, modes ok
    modes = 0
    with tempfile.TemporaryDirectory() as folder:
        pieces = scores(Path(folder), args.quick)
        print(f"{'piece':44} {'kind':15} {'bars':>5} {'rest':>4} | {'convert: hdr  lines':20} | {'excerpt: hdr  lines':20} | mode")
        for score in pieces:
            with contextlib.redirect_stderr(io.StringIO()):
                ref, converted, excerpt, silent = run_piece(score)
            if ref is None:
                print(f"{score.name[:44]:44} {score.kind:15} {converted.error}")
                continue
            row = []
            for label, match in (("convert", converted), ("excerpt", excerpt)):
                t = totals[label]
                if match.error:
                    row.append(f"{'ERROR ' + match.error[:13]:20}")
                    t[1] += 1
                    continue
                t[0] += match.header
                t[1] += 1
                t[2] += match.same
                t[3] += match.lines
                t[4] += bool(match.key_mode)
                row.append(f"{'same' if match.header else 'DIFF':>9} {_share(match.same, match.lines):>10}")
            if converted.key_mode is not None:
                modes += 1
            mode = "-" if converted.key_mode is None else (
                f"convert {'kept' if converted.key_mode else 'LOST'}, excerpt {'kept' if excerpt.key_mode else 'LOST'}")
            print(f"{score.name[:44]:44} {score.kind:15} {converted.lines + silent:5} {silent:4} | {row[0]} | {row[1]} | {mode}")
    print()
    for label, (headers, pieces, same, lines, kept) in totals.items():
        print(f"{label:8}: headers identical {headers}/{pieces} ({_share(headers, pieces).strip()}), "
              f"body lines identical {same}/{lines} ({_share(same, lines).strip()}), "
              f"key mode kept {kept}/{modes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
