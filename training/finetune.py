"""Fine-tune a model on a folder of the user's own scores under a new style prompt, then export.

    notabridge finetune FOLDER --name "My style" -o models/mine [--base BUNDLE_OR_PTH] [--minutes 15]

1. Every score of FOLDER (MusicXML, .mxl, MIDI, ABC) is converted as the training corpus is
   (notabridge.notation.to_abc, NotaGen's interleaving and rest reduction), with 6 copies in
   other keys within +-3 semitones (NotaGen's fine-tuning augmentation), and labelled with the new
   prompt (PERIOD / NAME / INSTRUMENTATION). 15% of the pieces (at least one) are held out to pick
   the best checkpoint and to measure bits per character before and after.
2. The base model's weights: a .pth, or an exported bundle's graphs read back
   (notabridge.onnx_export.from_bundle; the embedded model ships no checkpoint).
3. Rehearsal (training.rehearsal): the base's prompts are ranked on the user's pieces (the suggest
   scorer), and as many real pieces of the 5 likeliest ones as the user has are mixed in under
   their own prompt lines, so the model learns to tell the new style from its nearest
   styles. From a --rehearsal-corpus folder, or for the embedded model from music21's corpus
   (converted now, cached in OUT/.finetune); for another base there is none (a note says so).
4. A margin loss (training.contrast): each user piece must be likelier under the new prompt than
   under each competing prompt, so that suggest-prompt picks the new style for the composer's music.
5. training.train's prompt fine-tuning phase from those weights (full fine-tuning: at 5 M
   parameters low-rank adapters save nothing that matters), with its progress bar; OUT/.finetune
   keeps the corpus and the checkpoints, so running the same command again resumes.
6. Export to OUT with the base prompts plus the new one, and a bar index of the base's training
   pieces plus the user's (the originality check).
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from notabridge.abc.prompt import prompt_text
from notabridge.jobs.corpus_index import SCORE_TYPES, score_files
from notabridge.jobs.originality import INDEX_FILE, BarIndex

from .corpus import convert_piece, read_records, split_position

HELD_OUT_SHARE = 0.15       # of the pieces, at least one: 4 of 30 (a share by hash alone held out 1 of 30 Mazurkas)
FINETUNE_KEYS = 6            # copies of each piece in other keys within +-3 semitones (all 6)
REHEARSAL_PER_PIECE = 1      # rehearsal pieces per training piece of the user's (2 measured worse: docs/styles.md)
REHEARSAL_SECONDS = 180     # converting the rehearsal pieces from music21 (counts in the 20-minute target)
# the held-out pieces' best came after 2-3 of 15 minutes in every measured run and the rest
# overfit: training ends after this many checks without a better held-out loss
PATIENCE = 4
CONTRAST_WEIGHT = 1.0        # the margin loss (training.contrast) against the competing prompts


class FinetuneError(ValueError):
    """The folder or the options cannot be used; the message says what to do."""


@dataclass
class FinetuneResult:
    pieces: int
    held_out: int
    unreadable: list[str]
    before_bits: float          # held-out bits/char of the base model (no prompt of this style)
    after_bits: float           # the same pieces under the fine-tuned model, with the new prompt
    minutes: float
    out: Path


def score_source(path: Path):
    """What NotaGen's chain reads for one score file: the path (MusicXML), a music21 score (ABC)
    or MusicXML text (any other format, through the excerpt)."""
    from notabridge.notation import excerpt_to_musicxml, read_excerpt

    suffix = path.suffix.lower()
    if suffix in (".musicxml", ".xml", ".mxl"):
        return str(path)
    if suffix == ".abc":
        from music21 import converter, stream

        parsed = converter.parse(path.read_text(encoding="utf-8", errors="replace"), format="abc")
        return parsed.scores[0] if isinstance(parsed, stream.Opus) else parsed
    return excerpt_to_musicxml(read_excerpt(path))


def training_abc(path: Path) -> str:
    """NotaGen's training text of one score file, in its own key (what fine-tuning reads)."""
    record = convert_piece(path.name, score_source(path), ("", "", ""), 0, 0)
    if "error" in record:
        raise ValueError(record["error"])
    return record["abc"]


def convert_folder(folder: Path, prompt: tuple[str, str, str], keys: int | None = None) -> tuple[list[dict], list[str]]:
    """Corpus records of every readable score of `folder` (training.corpus's conversion: NotaGen's
    chain, copies within +-3 semitones), and the unreadable ones with why."""
    records, unreadable = [], []
    for path in score_files(folder):
        piece_id = str(path.relative_to(folder))
        try:
            record = convert_piece(piece_id, score_source(path), prompt, 0, FINETUNE_KEYS if keys is None else keys)
            if "error" in record:
                raise ValueError(record["error"])
            records.append({"id": piece_id, "prompt": list(prompt), "abc": record["abc"], "pretrain": [],
                            "finetune": record["finetune"]})
        except Exception as exc:  # noqa: BLE001 - reported to the user, the other files are used
            unreadable.append(f"{path.name}: {str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__}")
    return records, unreadable


def split(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """(training, held-out): HELD_OUT_SHARE of the pieces, at least one when there are two, the same
    pieces for the same file names (those with the lowest split positions)."""
    if len(records) < 2:
        return records, []
    count = max(1, round(len(records) * HELD_OUT_SHARE))
    held = {r["id"] for r in sorted(records, key=lambda r: split_position(r["id"]))[:count]}
    return [r for r in records if r["id"] not in held], [r for r in records if r["id"] in held]


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _rehearsal(base: Path, base_prompts: list, prompt: tuple[str, str, str], train: list[dict],
               corpus: str | Path | None, say) -> dict:
    """Which base prompts compete with the new one and pieces of them to mix in (training.rehearsal);
    {"prompts", "source", "note", "records"}, records empty with a note saying why when there are none."""
    from notabridge.engine.bundle import DEFAULT_BUNDLE

    from . import rehearsal

    def none(note: str) -> dict:
        return {"prompts": [], "source": None, "note": note, "records": []}

    embedded = base.is_dir() and base.resolve() == DEFAULT_BUNDLE.resolve()
    if corpus is None and not embedded:
        return none("the base model's training pieces are not at hand (give --rehearsal-corpus FOLDER, the base's "
                    "training.corpus folder, to mix in pieces of its nearest styles)")
    if not base.is_dir():
        return none("--base is a checkpoint: the nearest styles are ranked with a bundle (export it first)")
    others = [tuple(p) for p in base_prompts if tuple(p) != prompt]
    if not others:
        return none("the base model lists no prompts")
    say("ranking the base model's prompts on your pieces ...")
    competing = rehearsal.competing_prompts(base, train, others)
    if corpus is not None:
        records, source = rehearsal.from_corpus(Path(corpus), competing, REHEARSAL_PER_PIECE * len(train)), str(corpus)
    else:
        competing = rehearsal.music21_sources(competing)
        say(f"converting pieces of {', '.join(' / '.join(p) for p in competing)} from music21's corpus "
            f"(at most {REHEARSAL_SECONDS / 60:g} min) ...")
        records = rehearsal.from_music21(competing, REHEARSAL_PER_PIECE * len(train), REHEARSAL_SECONDS)
        source = "music21's corpus"
    note = "" if records else f"no pieces of {', '.join(' / '.join(p) for p in competing)} found in {source}"
    return {"prompts": [list(p) for p in competing], "source": source, "note": note, "records": records}


def held_out_bits(bundle_dir: Path, records: list[dict], prompt: tuple[str, str, str] | None) -> float:
    """Bits per character of the held-out pieces under a bundle (prompt lines first when given)."""
    from notabridge.engine.bundle import load_bundle
    from notabridge.engine.scoring import score_abc

    bundle = load_bundle(bundle_dir, device="cpu")
    nats = chars = 0.0
    for r in records:
        text = prompt_text(prompt) + r["abc"]
        s = score_abc(bundle, text)
        nats, chars = nats + s.nats, chars + s.chars
    return nats / chars / math.log(2) if chars else float("nan")


def finetune(folder: str | Path, name: str, out: str | Path, base: str | Path | None = None,
             period: str = "Custom", instrumentation: str = "Custom", minutes: float = 15.0, lr: float = 1e-4,
             threads: int = 1, quiet: bool = False, say=print, rehearsal: bool = True,
             rehearsal_corpus: str | Path | None = None, contrast: bool = True) -> FinetuneResult:
    from notabridge.engine.bundle import DEFAULT_BUNDLE, read_config

    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise FinetuneError(f"{folder}: no such folder: give a folder of your scores ({', '.join(SCORE_TYPES)})")
    if not score_files(folder):
        raise FinetuneError(f"{folder} holds no scores ({', '.join(SCORE_TYPES)}): put your MusicXML, MIDI or ABC "
                            f"files in it (sub-folders are searched too)")
    if not name.strip() or any(c in name for c in "\n%"):
        raise FinetuneError("--name must be a non-empty line of text without '%' (it becomes the prompt's composer)")
    prompt = (period.strip(), name.strip(), instrumentation.strip())
    base = Path(base) if base is not None else DEFAULT_BUNDLE
    work = out / ".finetune"
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus"
    job_file = work / "job.json"
    job = json.loads(job_file.read_text()) if job_file.is_file() else {}
    if (corpus / "train.jsonl").is_file() and job.get("prompt") == list(prompt):
        say(f"resuming: the converted pieces in {corpus} are reused")
        train = [r for r in read_records(corpus / "train.jsonl") if not r.get("rehearsal")]
        held = read_records(corpus / "validation.jsonl")
        unreadable = job.get("unreadable", [])
    else:
        say(f"reading {len(score_files(folder))} scores from {folder} ...")
        records, unreadable = convert_folder(folder, prompt)
        if not records:
            raise FinetuneError(f"none of the scores in {folder} could be read; first problems: " + "; ".join(unreadable[:3]))
        train, held = split(records)
        if not train:
            raise FinetuneError(f"only {len(records)} readable piece(s) in {folder}: give at least 2 (30 or more work best)")
        corpus.mkdir(parents=True, exist_ok=True)
        job = {"prompt": list(prompt), "unreadable": unreadable, "base": str(base)}
    for problem in unreadable:
        say(f"skipped {problem}")
    say(f"{len(train)} pieces to train on, {len(held)} held out; prompt {' / '.join(prompt)}")

    if base.is_dir():
        base_config = read_config(base)
        base_prompts = json.loads((base / "prompts.json").read_text()) if (base / "prompts.json").is_file() else []
        checkpoint = work / "base.pth"
        if not checkpoint.is_file():
            from notabridge.onnx_export.from_bundle import bundle_to_checkpoint
            bundle_to_checkpoint(base, checkpoint)
        before = held_out_bits(base, held, None) if held else float("nan")
    else:
        base_config, base_prompts, checkpoint = {}, [], base
        before = float("nan")
    extra = []
    if rehearsal:
        where = str(rehearsal_corpus) if rehearsal_corpus is not None else None
        if job.get("rehearsal", {}).get("corpus", "unset") != where:     # chosen once; again for another corpus
            job["rehearsal"] = {**_rehearsal(base, base_prompts, prompt, train, rehearsal_corpus, say), "corpus": where}
            _write_jsonl(work / "rehearsal.jsonl", job["rehearsal"].pop("records"))
        extra = read_records(work / "rehearsal.jsonl")
        if extra:
            say(f"rehearsal: {len(extra)} pieces of {', '.join(' / '.join(p) for p in job['rehearsal']['prompts'])} "
                f"under their own prompts ({job['rehearsal']['source']})")
        else:
            say(f"rehearsal skipped: {job['rehearsal']['note']}")
    competing = job.get("rehearsal", {}).get("prompts", []) if contrast else []
    train, held = ([{**r, "contrast": competing} for r in records] for records in (train, held))
    _write_jsonl(corpus / "train.jsonl", train + extra)
    _write_jsonl(corpus / "validation.jsonl", held)
    job_file.write_text(json.dumps(job))
    run = work / "run"
    from .train import main as train_main

    argv = ["--data", str(corpus), "--out", str(run), "--phases", "finetune", "--finetune-lr", str(lr),
            "--warmup-steps", "10", "--max-minutes", str(minutes), "--batch-patches", "1024",
            "--eval-minutes", str(max(0.5, minutes / 16)), "--checkpoint-minutes", "2", "--threads", str(threads),
            "--patience", str(PATIENCE)]
    if competing:
        say(f"margin: your pieces are trained to be likelier under {' / '.join(prompt)} than under the "
            f"{len(competing)} competing prompts")
        argv += ["--contrast-weight", str(CONTRAST_WEIGHT)]
    argv += ["--resume"] if (run / "last.pth").is_file() else ["--init", str(checkpoint)]
    if quiet:
        argv.append("--quiet")
    code = train_main(argv)
    if code == 130:
        raise FinetuneError(f"stopped; run the same command again to resume from {run / 'last.pth'}")
    if code:
        raise FinetuneError(f"training stopped with code {code}; see {run / 'train.log'}")
    progress = _progress(run)

    from notabridge.onnx_export.export import export_bundle

    prompts = [tuple(p) for p in base_prompts if tuple(p) != prompt] + [prompt]
    staging = work / "bundle"
    shutil.rmtree(staging, ignore_errors=True)
    card = _card(name, prompt, base, base_config, len(train), len(held), before, progress, extra, competing)
    export_bundle(run / "best.pth", staging, prompts=prompts, name=name, model_card=card)
    index = _index(base, train + held)
    if index is not None:
        index.save(staging / INDEX_FILE)
    for item in staging.iterdir():
        shutil.copy2(item, out / item.name)
    after = held_out_bits(out, held, prompt) if held else float("nan")
    card = card.replace("AFTER_BITS", f"{after:.3f}")
    (out / "MODEL_CARD.md").write_text(card)
    return FinetuneResult(len(train) + len(held), len(held), unreadable, before, after,
                          progress.get("elapsed", 0.0) / 60, out)


def _progress(run: Path) -> dict:
    import torch
    return torch.load(run / "last.pth", map_location="cpu", weights_only=True).get("progress", {})


def _index(base: Path, records: list[dict]) -> BarIndex | None:
    """The base bundle's index (if any) plus the user's pieces."""
    from notabridge.notation import abc_to_excerpt

    mine = BarIndex.build((r["id"], abc_to_excerpt(r["abc"], first_index=0)) for r in records)
    if base.is_dir() and (base / INDEX_FILE).is_file():
        return BarIndex.merge(BarIndex.load(base / INDEX_FILE), mine)
    return mine


def _card(name: str, prompt, base: Path, base_config: dict, n_train: int, n_held: int, before: float,
          progress: dict, extra: list[dict], competing: list) -> str:
    rehearsed = sorted({' / '.join(r['prompt']) for r in extra})
    mixed = (f" {len(extra)} of the base's training pieces of its nearest styles ({'; '.join(rehearsed)}) were mixed in"
             f" under their own prompts (rehearsal)." if extra else "")
    if competing:
        mixed += (f" A margin loss made the user's pieces likelier under the new prompt than under each of the"
                  f" {len(competing)} competing prompts.")
    return f"""# {name}

Fine-tuned by `notabridge finetune` from {base_config.get('name') or base} on {n_train} of the user's pieces
({n_held} held out), prompt `{' / '.join(prompt)}`; {progress.get('step', '?')} optimizer steps,
{progress.get('elapsed', 0) / 60:.1f} min of training. The base model's data, licence and limits apply
(see its MODEL_CARD.md); the user's pieces are the user's.{mixed}

| held-out pieces | bits per character |
|---|---:|
| base model, no prompt | {before:.3f} |
| this model, prompt `{' / '.join(prompt)}` | AFTER_BITS |
"""
