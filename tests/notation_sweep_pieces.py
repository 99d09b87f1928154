"""The pieces of the notation correctness sweep (test_notation_sweep.py, bench/notation_sweep.py).

Real scores nobody here wrote: music21's corpus (Bach chorales, Palestrina, Monteverdi, string
quartets, piano pieces, folk tunes, ...) and MuseScore 3's demo scores when mscore3 is installed.
Each piece goes excerpt -> NotaGen interleaved ABC -> excerpt and must come back with the same
onsets, durations and spelled pitches in every voice.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# group -> (corpus path fragment, file suffixes, how many in the CI sweep)
GROUPS: dict[str, tuple[str, tuple[str, ...], int]] = {
    "bach chorales": ("/bach/bwv", (".mxl",), 100),
    "palestrina": ("/palestrina/", (".krn",), 8),
    "monteverdi": ("/monteverdi/", (".mxl",), 10),
    "string quartets": ("QUARTETS", (".mxl",), 6),
    "piano": ("PIANO", (".mxl", ".krn", ".xml"), 8),
    "folk tunes": ("FOLK", (".abc",), 20),
    "other corpus": ("OTHER", (".xml", ".mxl"), 8),
}
QUARTETS = ("/haydn/opus1no1/", "/haydn/opus74no1/", "/mozart/k80/", "/mozart/k155/", "/mozart/k156/",
            "/beethoven/opus18no1/", "/beethoven/opus59no1/", "/schumann_robert/opus41no1/")
PIANO = ("/joplin/maple_leaf_rag", "/bach/bwv846", "/mozart/k545/", "/chopin/mazurka06-2", "/schoenberg/opus19/",
         "/schumann_clara/polonaise", "/cpebach/h186", "/schumann_robert/dichterliebe_no2")
FOLK = ("/ryansMammoth/", "/oneills1850/", "/essenFolksong/", "/airdsAirs/")
OTHER = ("/trecento/", "/ciconia/", "/corelli/", "/handel/", "/leadSheet/", "/luca/", "/verdi/", "/weber/")
MUSESCORE_DEMOS = Path("/usr/share/mscore3-3.2/demos")


@dataclass
class Piece:
    group: str
    name: str
    load: object  # () -> excerpt


@dataclass
class Outcome:
    piece: Piece
    ok: bool
    cause: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _corpus_paths() -> list[Path]:
    from music21 import corpus

    return sorted(Path(p) for p in corpus.getPaths())


def _matches(path: Path, fragments) -> bool:
    text = path.as_posix()
    return any(f in text for f in fragments)


def _first_tune_number(path: Path) -> int:
    match = re.search(r"^X:\s*(\d+)", path.read_text(encoding="latin-1"), re.M)
    return int(match.group(1)) if match else 1


def _loader(path: Path):
    from notabridge.notation import excerpt_from_musicxml, excerpt_from_score

    def load() -> dict:
        if path.suffix in (".mxl", ".xml", ".musicxml"):
            return excerpt_from_musicxml(path)
        from music21 import converter

        if path.suffix == ".abc":
            score = converter.parse(path, number=_first_tune_number(path))
        else:
            score = converter.parse(path)
        if hasattr(score, "scores"):
            score = score.scores[0]
        return excerpt_from_score(score)

    return load


def corpus_pieces(scale: float = 1.0) -> list[Piece]:
    """A deterministic selection: per group the first N files in path order (folk: spread out)."""
    paths = _corpus_paths()
    pieces: list[Piece] = []
    for group, (fragment, suffixes, count) in GROUPS.items():
        fragments = {"QUARTETS": QUARTETS, "PIANO": PIANO, "FOLK": FOLK, "OTHER": OTHER}.get(fragment, (fragment,))
        chosen = [p for p in paths if p.suffix in suffixes and _matches(p, fragments)]
        n = max(1, round(count * scale))
        if group == "folk tunes" and chosen:  # one tune from each of many collection files
            step = max(1, len(chosen) // n)
            chosen = chosen[::step]
        elif group in ("string quartets", "piano", "other corpus"):  # one file per source first
            firsts = [next(p for p in chosen if f in p.as_posix()) for f in fragments if any(f in p.as_posix() for p in chosen)]
            chosen = firsts + [p for p in chosen if p not in firsts]
        pieces += [Piece(group, p.relative_to(p.parents[2]).as_posix(), _loader(p)) for p in chosen[:n]]
    return pieces


def musescore_demo_pieces(workdir: Path) -> list[Piece]:
    """MuseScore 3's demo scores, exported to MusicXML by mscore3 itself (empty when absent)."""
    mscore = shutil.which("mscore3") or shutil.which("mscore")
    if not mscore or not MUSESCORE_DEMOS.is_dir():
        return []
    from notabridge.notation import excerpt_from_musicxml

    pieces = []
    for source in sorted(MUSESCORE_DEMOS.glob("*.msc[xz]")):
        target = workdir / (source.stem + ".musicxml")

        def load(source=source, target=target) -> dict:
            subprocess.run([mscore, "-o", str(target), str(source)], check=True, capture_output=True, timeout=120,
                           env={"QT_QPA_PLATFORM": "offscreen", "HOME": str(workdir), "PATH": "/usr/bin:/bin"})
            return excerpt_from_musicxml(target)

        pieces.append(Piece("musescore demos", source.name, load))
    return pieces


def check_piece(piece: Piece) -> Outcome:
    """excerpt -> interleaved ABC -> excerpt; ok when onsets, durations and spelled pitches all match."""
    from notabridge.notation import NotationError, abc_to_excerpt, excerpt_to_abc
    from notabridge.notation.compare import excerpt_differences

    start = time.perf_counter()
    try:
        original = piece.load()
    except (NotationError, subprocess.SubprocessError, OSError) as exc:  # mscore3 export may fail too
        return Outcome(piece, False, f"reading the source: {exc}", time.perf_counter() - start)
    try:
        back = abc_to_excerpt(excerpt_to_abc(original), template=original)
    except NotationError as exc:
        return Outcome(piece, False, f"conversion refused: {exc}", time.perf_counter() - start, original["warnings"])
    differences = excerpt_differences(original, back, limit=2)
    return Outcome(piece, not differences, "; ".join(differences), time.perf_counter() - start, original["warnings"])


def run_sweep(pieces: list[Piece]) -> list[Outcome]:
    return [check_piece(p) for p in pieces]


def summary(outcomes: list[Outcome]) -> str:
    lines = []
    groups = sorted({o.piece.group for o in outcomes})
    for g in groups:
        rows = [o for o in outcomes if o.piece.group == g]
        lines.append(f"{g}: {sum(o.ok for o in rows)}/{len(rows)} exact")
    lines.append(f"all: {sum(o.ok for o in outcomes)}/{len(outcomes)} exact")
    for o in outcomes:
        if not o.ok:
            lines.append(f"FAIL {o.piece.group} {o.piece.name}: {o.cause}")
    return "\n".join(lines)


def temporary_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="notation-sweep-"))
