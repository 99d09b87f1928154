"""Build the NotaGen-format training corpus from music21's bundled corpus.

    python -m training.corpus OUT_DIR [--workers 2] [--folk-per-collection 600]

Every piece goes through the notation layer's `notabridge.notation.to_abc` (MusicXML -> xml2abc ->
NotaGen cleanup -> interleaved bar lines), is transposed with abctoolkit for key augmentation
(pre-training: a few of the 15 keys; fine-tuning: within +-3 semitones) and is written, with
its style prompt (period / composer / instrumentation, from where it sits in the corpus), to
OUT_DIR/train.jsonl or OUT_DIR/validation.jsonl (split by piece, by a hash of its id). The
files grow piece by piece, so a run that is stopped leaves a usable corpus, and running again
skips the pieces already written. At the end: OUT_DIR/stats.json and OUT_DIR/prompts.json, and
a table of pieces and characters per prompt.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import random
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

Prompt = tuple[str, str, str]

# 15 keys of NotaGen's pre-training augmentation (abctoolkit's names, relative majors)
KEYS = ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"]


@dataclass(frozen=True)
class Source:
    """Files of the music21 corpus sharing one style prompt."""

    name: str
    patterns: tuple[str, ...]      # globs under music21/corpus
    prompt: Prompt
    kind: str = "musicxml"         # "musicxml": path straight to to_abc; "parse": music21 first; "abc_tunes": folk files


BACH = ("Baroque", "Bach, Johann Sebastian", "Choral")
SOURCES: tuple[Source, ...] = (
    Source("bach", ("bach/*.mxl", "bach/*.xml"), BACH),
    Source("palestrina", ("palestrina/*.krn",), ("Renaissance", "Palestrina, Giovanni Pierluigi da", "Choral"), "parse"),
    Source("monteverdi", ("monteverdi/*.mxl",), ("Renaissance", "Monteverdi, Claudio", "Choral")),
    Source("josquin", ("josquin/*.abc",), ("Renaissance", "Josquin des Prez", "Choral"), "parse"),
    Source("lusitano", ("lusitano/*.mxl",), ("Renaissance", "Lusitano, Vicente", "Choral")),
    Source("trecento", ("trecento/*.xml", "trecento/*.mxl", "ciconia/*.xml", "luca/*.xml"), ("Medieval", "Trecento", "Choral")),
    Source("beethoven", ("beethoven/*.mxl", "beethoven/*/*.mxl"), ("Classical", "Beethoven, Ludwig van", "Chamber")),
    Source("haydn", ("haydn/*/*.mxl",), ("Classical", "Haydn, Joseph", "Chamber")),
    Source("mozart-quartets", ("mozart/k155/*.mxl", "mozart/k156/*.mxl", "mozart/k458/*.mxl", "mozart/k80/*.mxl"),
           ("Classical", "Mozart, Wolfgang Amadeus", "Chamber")),
    Source("mozart-keyboard", ("mozart/k545/*.mxl",), ("Classical", "Mozart, Wolfgang Amadeus", "Keyboard")),
    Source("corelli", ("corelli/*/*.xml",), ("Baroque", "Corelli, Arcangelo", "Chamber")),
    Source("cpebach", ("cpebach/*.mxl",), ("Classical", "Bach, Carl Philipp Emanuel", "Keyboard")),
    Source("handel", ("handel/*/*.mxl",), ("Baroque", "Handel, George Frideric", "Art Song")),
    Source("schumann-songs", ("schumann_robert/dichterliebe_no2.xml", "schumann_robert/opus48no2.mxl"),
           ("Romantic", "Schumann, Robert", "Art Song")),
    Source("schumann-quartet", ("schumann_robert/opus41no1/*.mxl",), ("Romantic", "Schumann, Robert", "Chamber")),
    Source("schumann-clara", ("schumann_clara/*.mxl",), ("Romantic", "Schumann, Clara", "Keyboard")),
    Source("schumann-clara-trio", ("schumann_clara/opus17/*.xml", "schumann_clara/opus17/*.mxl"),
           ("Romantic", "Schumann, Clara", "Chamber")),
    Source("schubert", ("schubert/*.xml",), ("Romantic", "Schubert, Franz", "Art Song")),
    Source("verdi", ("verdi/*.mxl",), ("Romantic", "Verdi, Giuseppe", "Art Song")),
    Source("songs", ("beach/*.musicxml", "johnson_j_r/*.mxl", "liliuokalani/*.mxl"), ("Romantic", "Songs", "Art Song")),
    Source("chopin", ("chopin/*.krn",), ("Romantic", "Chopin, Frederic", "Keyboard"), "parse"),
    Source("joplin", ("joplin/*.mxl",), ("Romantic", "Joplin, Scott", "Keyboard")),
    Source("schoenberg", ("schoenberg/*/*.mxl",), ("Modern", "Schoenberg, Arnold", "Keyboard")),
    Source("essen", ("essenFolksong/*.abc",), ("Folk", "Essen Folksong Collection", "Melody"), "abc_tunes"),
    Source("oneill", ("oneills1850/*.abc",), ("Folk", "O'Neill, Francis", "Melody"), "abc_tunes"),
    Source("ryan", ("ryansMammoth/*.abc",), ("Folk", "Ryan, William Bradbury", "Melody"), "abc_tunes"),
    Source("aird", ("airdsAirs/*.abc",), ("Folk", "Aird, James", "Melody"), "abc_tunes"),
    Source("nottingham", ("nottingham-dataset/*.abc",), ("Folk", "Nottingham Music Database", "Melody"), "abc_tunes"),
    Source("miscfolk", ("miscFolk/*.abc",), ("Folk", "Fife and Minstrelsy", "Melody"), "abc_tunes"),
)


def corpus_root() -> Path:
    from music21 import corpus
    return Path(corpus.__file__).parent


# ---------------------------------------------------------------- one piece

def key_index(abc_text: str) -> int:
    """Pitch class (0..11) of the relative major of the piece's K: line (abctoolkit's notion)."""
    from abctoolkit.transpose import Key2index, lookup_key_according_to_keymode
    m = re.search(r"^K:\s*(\S+)", abc_text, flags=re.M)
    key = m.group(1) if m else "C"
    try:
        return Key2index[lookup_key_according_to_keymode(key)]
    except (KeyError, IndexError):
        return 0


def chain_text(lines: list[str], target: str | None = None) -> str:
    """NotaGen's prepared plain ABC (chain steps 2-5) -> its training text (step 6: one line per
    bar, rest-only voice bars left out, a bar where every voice rests left out), in key `target`
    (None = the piece's own key). NotaGen transposes the plain text, then interleaves it."""
    import contextlib
    import io
    from abctoolkit.transpose import transpose_an_abc_text
    from notabridge.notation.notagen_chain import interleave_bars

    if target is not None:
        with contextlib.redirect_stdout(io.StringIO()):
            text = transpose_an_abc_text(list(lines), target)
        lines = [line + "\n" for line in text.split("\n") if line]
    header, bars, _ = interleave_bars(lines, reduce_rests=True)
    return "".join(header + [bar for bar in bars if bar])


def augmentation_keys(abc_text: str, rng: random.Random, pretrain: int, finetune: int) -> tuple[list[str], list[str]]:
    """Keys for the pre-training versions (any of the 15) and the fine-tuning ones (+-3 semitones)."""
    from abctoolkit.transpose import Key2index
    home = key_index(abc_text)
    others = [k for k in KEYS if Key2index[k] != home]

    def shift(k: str) -> int:
        return (Key2index[k] - home + 6) % 12 - 6

    near = [k for k in others if abs(shift(k)) <= 3]
    return rng.sample(others, min(pretrain, len(others))), rng.sample(near, min(finetune, len(near)))


class PieceTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise PieceTimeout()


def convert_piece(piece_id: str, source, prompt: Prompt, pretrain: int, finetune: int, timeout: float = 0) -> dict:
    """One score (path or music21 stream) -> the corpus record, or {'id', 'error'}.

    The text is NotaGen's training text from notabridge.notation.notagen_chain (xml2abc with
    NotaGen's options, its cleanup, bar check, annotation rules and key normalisation), and the
    key-shifted copies transpose that same prepared text before interleaving, as NotaGen does.
    """
    import signal
    from notabridge.notation.notagen_chain import prepared_lines
    from notabridge.notation.sources import musicxml_bytes
    from notabridge.notation.xml2abc_run import musicxml_to_plain_abc

    if timeout:
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        text, _ = musicxml_to_plain_abc(musicxml_bytes(source))
        lines = prepared_lines(text, [])
        abc = chain_text(lines)
        if not any(line.startswith("[V:") for line in abc.split("\n")):
            return {"id": piece_id, "error": "no body lines"}
        abc.encode("ascii")
        rng = random.Random(piece_id)
        pre_keys, fine_keys = augmentation_keys(abc, rng, pretrain, finetune)
        versions = {}
        for phase, keys in (("pretrain", pre_keys), ("finetune", fine_keys)):
            versions[phase] = []
            for key in keys:
                try:
                    versions[phase].append(chain_text(lines, key))
                except PieceTimeout:
                    raise
                except Exception:  # an odd bar abctoolkit cannot transpose: keep the other keys
                    pass
        voices = len(re.findall(r"^V:\d+", abc, flags=re.M))
        return {"id": piece_id, "prompt": list(prompt), "abc": abc, "voices": voices, **versions}
    except PieceTimeout:
        return {"id": piece_id, "error": f"timeout: over {timeout} s"}
    except Exception as exc:  # noqa: BLE001 - a corpus file we cannot use is reported and skipped
        return {"id": piece_id, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    finally:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)


# ---------------------------------------------------------------- tasks

@dataclass(frozen=True)
class Task:
    source: Source
    path: str              # relative to the corpus root
    tunes: tuple[int, ...] = ()  # abc_tunes: which tunes of the file (indexes of X: blocks)


def split_tunes(text: str) -> list[str]:
    """An ABC file -> one text per tune (each starts at an X: line)."""
    starts = [m.start() for m in re.finditer(r"^X:", text, flags=re.M)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def make_tasks(root: Path, folk_per_collection: int, seed: int = 0, max_per_source: int = 0) -> list[Task]:
    """All tasks, interleaved across sources so that a partial run is balanced."""
    rng = random.Random(seed)
    per_source: list[list[Task]] = []
    for source in SOURCES:
        paths = sorted({os.path.relpath(p, root) for pattern in source.patterns for p in glob.glob(str(root / pattern))})
        if source.kind != "abc_tunes":
            tasks = [Task(source, p) for p in paths]
        else:
            tunes = [(p, i) for p in paths
                     for i in range(len(split_tunes((root / p).read_text(encoding="utf-8", errors="replace"))))]
            rng.shuffle(tunes)
            chosen = sorted(tunes[:folk_per_collection])
            by_file: dict[str, list[int]] = defaultdict(list)
            for p, i in chosen:
                by_file[p].append(i)
            # small groups of tunes per task so that workers stay busy evenly
            tasks = [Task(source, p, tuple(ix[j:j + 20])) for p, ix in by_file.items() for j in range(0, len(ix), 20)]
        rng.shuffle(tasks)
        per_source.append(tasks[-max_per_source:] if max_per_source else tasks)
    out = []
    while any(per_source):
        for tasks in per_source:
            if tasks:
                out.append(tasks.pop())
    return out


def _parse_with_limit(load, timeout: float):
    """music21's parsing of one file or tune, stopped after `timeout` seconds (0 = no limit)."""
    import signal
    if timeout:
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return load()
    finally:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)


def run_task(args: tuple) -> list[dict]:
    """(task, corpus root, pretrain keys, finetune keys[, per-piece timeout in s]) -> records."""
    task, root, pretrain, finetune = args[:4]
    timeout = args[4] if len(args) > 4 else 0
    import warnings
    warnings.filterwarnings("ignore")
    from music21 import converter, stream
    path = Path(root) / task.path
    base = f"{task.source.name}/{Path(task.path).with_suffix('').as_posix()}"
    try:
        if task.source.kind == "musicxml":
            return [convert_piece(base, str(path), task.source.prompt, pretrain, finetune, timeout)]
        if task.source.kind == "parse":
            parsed = _parse_with_limit(lambda: converter.parse(str(path)), timeout * 2)
            scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
            return [convert_piece(base + (f"#{i}" if len(scores) > 1 else ""), s, task.source.prompt, pretrain, finetune,
                                  timeout) for i, s in enumerate(scores)]
        tunes = split_tunes(path.read_text(encoding="utf-8", errors="replace"))
        out = []
        for i in task.tunes:
            try:
                score = _parse_with_limit(lambda: converter.parse(tunes[i], format="abc"), timeout)
            except PieceTimeout:
                out.append({"id": f"{base}#{i}", "error": f"timeout: music21 over {timeout} s"})
                continue
            except Exception as exc:  # noqa: BLE001
                out.append({"id": f"{base}#{i}", "error": f"music21: {str(exc)[:200]}"})
                continue
            out.append(convert_piece(f"{base}#{i}", score, task.source.prompt, pretrain, finetune, timeout))
        return out
    except PieceTimeout:
        return [{"id": base, "error": f"timeout: music21 over {timeout * 2} s"}]
    except Exception as exc:  # noqa: BLE001
        return [{"id": base, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}]


# ---------------------------------------------------------------- output

def split_position(piece_id: str) -> float:
    """Where a piece falls in [0, 1] for a split by piece: the same id, the same place."""
    return int(hashlib.sha1(piece_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def is_validation(piece_id: str, share: float) -> bool:
    """Stable split by piece: the same piece always lands on the same side."""
    return split_position(piece_id) < share


def text_digest(abc: str) -> str:
    """Duplicate check: the body text without spaces (the header's voice names may differ)."""
    body = "".join(line for line in abc.split("\n") if line.startswith("[V:"))
    return hashlib.sha1(body.replace(" ", "").encode()).hexdigest()


def read_records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_summary(out: Path, min_prompt_pieces: int) -> dict:
    stats: dict[str, dict] = {}
    for split in ("train", "validation"):
        for rec in read_records(out / f"{split}.jsonl"):
            entry = stats.setdefault(" / ".join(rec["prompt"]), {"prompt": rec["prompt"], "train": [0, 0], "validation": [0, 0]})
            entry[split][0] += 1
            entry[split][1] += len(rec["abc"])
    rows = sorted(stats.values(), key=lambda e: -e["train"][1])
    summary = {"prompts": [{"prompt": e["prompt"], "train_pieces": e["train"][0], "train_chars": e["train"][1],
                            "validation_pieces": e["validation"][0], "validation_chars": e["validation"][1]} for e in rows]}
    summary["total"] = {k: sum(p[k] for p in summary["prompts"]) for k in
                        ("train_pieces", "train_chars", "validation_pieces", "validation_chars")}
    failed: dict[str, int] = defaultdict(int)
    for rec in read_records(out / "failed.jsonl"):
        error = rec.get("error", "")
        failed["timeout" if error.startswith("timeout") else "duplicate" if error.startswith("duplicate")
               else "unequal bar counts" if "unequal bar counts" in error else "other error"] += 1
    summary["skipped"] = dict(failed)
    (out / "stats.json").write_text(json.dumps(summary, indent=1))
    prompts = [e["prompt"] for e in rows if e["train"][0] >= min_prompt_pieces]
    (out / "prompts.json").write_text(json.dumps(prompts, indent=1))
    return summary


def print_summary(summary: dict) -> None:
    print(f"{'prompt':62s} {'train':>7s} {'chars':>10s} {'valid':>6s} {'chars':>9s}")
    for p in summary["prompts"] + [{"prompt": ["total"], **summary["total"]}]:
        print(f"{' / '.join(p['prompt'])[:62]:62s} {p['train_pieces']:7d} {p['train_chars']:10d} "
              f"{p['validation_pieces']:6d} {p['validation_chars']:9d}")
    print("(characters of the original-key text without prompt lines; key-shifted copies not counted)")
    print("skipped pieces:", summary.get("skipped", {}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="output directory")
    p.add_argument("--workers", type=int, default=2, help="processes (keep it small on a shared machine)")
    p.add_argument("--folk-per-collection", type=int, default=1000,
                   help="tunes taken from each folk collection (keeps folk from swamping the rest)")
    p.add_argument("--timeout", type=int, default=60, help="seconds per piece before it is skipped (counted as failed)")
    p.add_argument("--pretrain-keys", type=int, default=3, help="extra keys per piece for pre-training (of 15)")
    p.add_argument("--finetune-keys", type=int, default=2, help="extra keys within +-3 semitones for fine-tuning")
    p.add_argument("--validation-share", type=float, default=0.05)
    p.add_argument("--min-prompt-pieces", type=int, default=5, help="prompts.json lists prompts with this many training pieces")
    p.add_argument("--max-per-source", type=int, default=0, help="files (folk: tune groups) per source (0 = all)")
    p.add_argument("--only", help="comma-separated source names (default: all)")
    p.add_argument("--limit", type=int, default=0, help="stop after this many tasks (0 = all)")
    p.add_argument("--max-minutes", type=float, default=0, help="stop taking new tasks after this long")
    args = p.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = corpus_root()
    done = {r["id"].split("#")[0] for split in ("train", "validation") for r in read_records(out / f"{split}.jsonl")}
    done |= {r["id"].split("#")[0] for r in read_records(out / "failed.jsonl")}
    tasks = make_tasks(root, args.folk_per_collection, max_per_source=args.max_per_source)
    if args.only:
        wanted = set(args.only.split(","))
        tasks = [t for t in tasks if t.source.name in wanted]
    tasks = [t for t in tasks if f"{t.source.name}/{Path(t.path).with_suffix('').as_posix()}" not in done or t.tunes]
    done_tunes = {r["id"] for split in ("train", "validation", "failed") for r in read_records(out / f"{split}.jsonl")}
    # folk files: only the tunes not written yet (converting a tune is the slow part)
    tasks = [t if not t.tunes else Task(t.source, t.path, tuple(
        i for i in t.tunes if f"{t.source.name}/{Path(t.path).with_suffix('').as_posix()}#{i}" not in done_tunes))
        for t in tasks]
    tasks = [t for t in tasks if t.tunes or t.source.kind != "abc_tunes"]
    if args.limit:
        tasks = tasks[: args.limit]
    print(f"{len(tasks)} tasks to run with {args.workers} worker(s)", flush=True)

    from tqdm import tqdm
    files = {name: open(out / f"{name}.jsonl", "a", encoding="utf-8") for name in ("train", "validation", "failed")}
    start = time.monotonic()
    jobs = [(t, str(root), args.pretrain_keys, args.finetune_keys, args.timeout) for t in tasks]
    seen = {text_digest(r["abc"]) for split in ("train", "validation") for r in read_records(out / f"{split}.jsonl")}
    counts = defaultdict(int)

    def consume(records: list[dict]) -> None:
        for rec in records:
            if rec["id"] in done_tunes:
                continue
            if "error" not in rec and text_digest(rec["abc"]) in seen:  # the same music under another name
                rec = {"id": rec["id"], "error": "duplicate of a piece already written"}
            if "error" not in rec:
                seen.add(text_digest(rec["abc"]))
            name = "failed" if "error" in rec else ("validation" if is_validation(rec["id"], args.validation_share) else "train")
            files[name].write(json.dumps(rec) + "\n")
            files[name].flush()
            counts[name] += 1

    try:
        if args.workers <= 1:
            for job in tqdm(jobs, mininterval=30):
                consume(run_task(job))
                if args.max_minutes and time.monotonic() - start > args.max_minutes * 60:
                    break
        else:
            import multiprocessing as mp
            with mp.get_context("spawn").Pool(args.workers, maxtasksperchild=50) as pool:
                for records in tqdm(pool.imap_unordered(run_task, jobs), total=len(jobs), mininterval=30):
                    consume(records)
                    if args.max_minutes and time.monotonic() - start > args.max_minutes * 60:
                        pool.terminate()
                        break
    finally:
        for f in files.values():
            f.close()
    print(f"written: {dict(counts)} in {(time.monotonic() - start) / 60:.1f} min", flush=True)
    print_summary(write_summary(out, args.min_prompt_pieces))
    return 0


if __name__ == "__main__":
    sys.exit(main())
