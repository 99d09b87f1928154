"""Rehearsal for `notabridge finetune`: pieces of the base model's nearest styles, under their own prompts.

Fine-tuning on the user's pieces alone under the new prompt changes weights every prompt shares:
the pieces become likelier under every prompt, and nothing teaches the model to tell the new
style from the base's styles nearest to it (measured with bench/finetune.py: suggest-prompt put
the new style first for 2-4 of 15 test songs without rehearsal, 12-13 with it, and the Essen
prompt's own songs got 22-60% worse without it, 0-4% with it). So, before training, the base's
prompts are ranked on the user's pieces with the suggest scorer, the likeliest 5 are the
competing ones, and real pieces of those prompts go into the training set under their own
prompt lines.

Where those pieces come from: a training.corpus folder of the base (its train.jsonl), or, for
the embedded model, music21's corpus converted now by training.corpus (only the competing
prompts' sources, the training side of the split, within a time limit). For another base
whose corpus is not at hand there is no rehearsal.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

from .corpus import SOURCES, Task, corpus_root, is_validation, make_tasks, read_records, run_task
from .heldout import FOLK_PER_COLLECTION, VALIDATION_SHARE

Prompt = tuple[str, str, str]
MOST_PROMPTS = 5        # competing prompts at most (3 measured worse on Grieg: docs/styles.md)


def competing_prompts(base: Path, records: list[dict], prompts: list[Prompt], most: int = MOST_PROMPTS) -> list[Prompt]:
    """The `most` base prompts the user's pieces are likeliest under (the suggest scorer, summed over
    the pieces), likeliest first."""
    from notabridge.engine.bundle import load_bundle
    from notabridge.engine.runtime import Runner
    from notabridge.jobs.suggest import rank_prompts

    runner = Runner(load_bundle(base, device="cpu", threads=1))
    nats: Counter[Prompt] = Counter()
    for r in records:
        ranked, _ = rank_prompts(runner, prompts, r["abc"])
        for s in ranked:
            nats[s.prompt] += s.nats
    return sorted(nats, key=nats.get)[:most]


def _shares(prompts: list[Prompt], total: int) -> dict[Prompt, int]:
    """`total` pieces shared among `prompts`, the likeliest (first) ones taking the remainder."""
    k = max(1, len(prompts))
    return {p: total // k + (i < total % k) for i, p in enumerate(prompts)}


def from_corpus(folder: Path, prompts: list[Prompt], total: int, seed: int = 0) -> list[dict]:
    """`total` training pieces of a training.corpus folder, shared among `prompts`, with their own prompts."""
    wanted = {p: [] for p in prompts}
    for rec in read_records(folder / "train.jsonl"):
        if tuple(rec["prompt"]) in wanted:
            wanted[tuple(rec["prompt"])].append(rec)
    rng, share = random.Random(seed), _shares(prompts, total)
    return [_record(r) for p in prompts for r in rng.sample(wanted[p], min(share[p], len(wanted[p])))]


def music21_sources(prompts: list[Prompt]) -> list[Prompt]:
    """The prompts of `prompts` that training.corpus makes from music21's corpus."""
    known = {s.prompt for s in SOURCES}
    return [p for p in prompts if p in known]


def from_music21(prompts: list[Prompt], total: int, seconds: float, keys: int = 2) -> list[dict]:
    """`total` pieces of the embedded model's training side for `prompts`, converted now from music21's
    corpus as training.corpus does (with `keys` copies within +-3 semitones); stops after `seconds`."""
    root, share = corpus_root(), _shares(prompts, total)
    tasks = [t for t in make_tasks(root, FOLK_PER_COLLECTION) if t.source.prompt in prompts]
    got: dict[Prompt, list[dict]] = {p: [] for p in prompts}
    started = time.monotonic()
    for task in tasks:
        each = share[task.source.prompt]
        if len(got[task.source.prompt]) >= each:
            continue
        if all(len(got[p]) >= share[p] for p in prompts) or time.monotonic() - started > seconds:
            break
        base = f"{task.source.name}/{Path(task.path).with_suffix('').as_posix()}"
        if task.tunes:        # folk files: only tunes of the training side, no more than needed
            tunes = tuple(i for i in task.tunes if not is_validation(f"{base}#{i}", VALIDATION_SHARE))
            spread = max(1, each // 5)      # a few tunes per group, so that they come from several collections
            task = Task(task.source, task.path, tunes[:min(spread, each - len(got[task.source.prompt]))])
        for rec in run_task((task, str(root), 0, keys, 30)):
            if "error" not in rec and not is_validation(rec["id"], VALIDATION_SHARE):
                got[task.source.prompt].append(_record(rec))
    return [r for p in prompts for r in got[p][:share[p]]]


def _record(rec: dict) -> dict:
    return {"id": rec["id"], "prompt": list(rec["prompt"]), "abc": rec["abc"], "pretrain": [],
            "finetune": rec.get("finetune", []), "rehearsal": True}
