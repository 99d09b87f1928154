"""Evaluate a model bundle on held-out pieces and on pieces it generates, with baselines.

    python -m training.evaluate models/default --data work_data/corpus [--out report.json]

1. Validation bits per character (ONNX Runtime, notabridge.engine.scoring: NotaGen's loss on the held-out
   pieces with their prompt lines) against a character n-gram model trained on the same
   training pieces and charged for the same characters.
2. Generation (notabridge.engine) of a few pieces per prompt, from the prompt alone ("generate") and
   after the opening bars of a real held-out piece ("continue"): share of bars valid on the first try,
   and key-relative pitch-class, melodic-interval and duration histograms compared with the
   real pieces of the prompt (Jensen-Shannon divergence, bits), plus key consistency (share of
   notes inside the key signature's scale). Baseline in the same run: the same comparison with
   the generations of a different prompt (shuffled prompts); if the prompt steers the music,
   matched prompts come out closer than shuffled ones.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np

from notabridge.abc.prompt import prompt_lines, prompt_text

from .data import Piece, piece_text, read_jsonl
from .ngram import CharNgram, bits_per_char, scored_stream

DURATIONS = ["1/16", "1/8", "3/16", "1/4", "3/8", "1/2", "3/4", "1"]   # + "other"
MAJOR_SCALE = {0, 2, 4, 5, 7, 9, 11}


# ---------------------------------------------------------------- music statistics

def excerpt_notes(abc_text: str) -> dict:
    """Counters of key-relative pitch classes, melodic intervals and durations, and in-key notes."""
    from notabridge.notation.abc_import import abc_to_excerpt
    excerpt = abc_to_excerpt(abc_text)
    pcs, intervals, durations = Counter(), Counter(), Counter()
    in_key = total = 0
    last: dict[tuple[int, int], int] = {}
    for measure in excerpt["measures"]:
        tonic = (7 * int(measure.get("key", 0))) % 12      # major tonic of the key signature
        for staff in measure["staves"]:
            for voice in staff["voices"]:
                for event in voice["events"]:
                    d = str(Fraction(event["duration"]))
                    durations[d if d in DURATIONS else "other"] += 1
                    if event["type"] != "chord" or not event.get("notes"):
                        continue
                    top = max(n["pitch"] for n in event["notes"])
                    for n in event["notes"]:
                        rel = (n["pitch"] - tonic) % 12
                        pcs[rel] += 1
                        in_key += rel in MAJOR_SCALE
                        total += 1
                    key = (staff["staff"], voice["voice"])
                    if key in last:
                        intervals[max(-12, min(12, top - last[key]))] += 1
                    last[key] = top
    return {"pcs": pcs, "intervals": intervals, "durations": durations, "in_key": in_key, "notes": total}


def merge(stats: list[dict]) -> dict:
    out = {"pcs": Counter(), "intervals": Counter(), "durations": Counter(), "in_key": 0, "notes": 0}
    for s in stats:
        for k in ("pcs", "intervals", "durations"):
            out[k].update(s[k])
        out["in_key"] += s["in_key"]
        out["notes"] += s["notes"]
    return out


def histogram(counter: Counter, bins: list) -> np.ndarray:
    v = np.array([counter.get(b, 0) for b in bins], dtype=np.float64)
    return v / v.sum() if v.sum() else np.full(len(bins), 1 / len(bins))


def js_bits(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2

    def kl(a, b):
        mask = a > 0
        return float((a[mask] * np.log2(a[mask] / b[mask])).sum())

    return (kl(p, m) + kl(q, m)) / 2


BINS = {"pcs": list(range(12)), "intervals": list(range(-12, 13)), "durations": DURATIONS + ["other"]}


def distances(generated: dict, real: dict) -> dict:
    out = {k: js_bits(histogram(generated[k], b), histogram(real[k], b)) for k, b in BINS.items()}
    out["key_consistency"] = generated["in_key"] / max(1, generated["notes"])
    return out


# ---------------------------------------------------------------- evaluation parts

def validation_bpc(bundle, pieces: list[Piece]) -> tuple[float, int]:
    from notabridge.engine.scoring import score_abc
    nats = chars = 0
    for p in pieces:
        s = score_abc(bundle, piece_text(p, "finetune"))
        nats, chars = nats + s.nats, chars + s.chars
    return nats / chars / math.log(2), chars


def ngram_bpc(train: list[Piece], valid: list[Piece], order: int, max_chars: int) -> tuple[float, int]:
    streams, used = [], 0
    for p in train:
        for v in range(1 + len(p.variants.get("finetune", []))):
            s = scored_stream(piece_text(p, "finetune", v))
            streams.append(s)
            used += len(s)
        if used >= max_chars:
            break
    model = CharNgram(order).fit(streams)
    return bits_per_char(model, [scored_stream(piece_text(p, "finetune")) for p in valid]), used


def opening(pieces: list[Piece], prompt: tuple, given_bars: int) -> str | None:
    """Prompt lines, header and the first bars of a real piece of this prompt (for continuation)."""
    from notabridge.abc.patching import split_piece
    for p in pieces:
        if p.prompt == prompt:
            piece = split_piece(p.abc)
            if len(piece.body) > given_bars:
                return prompt_text(prompt) + "".join(piece.header + piece.body[:given_bars])
    return None


def generate_for_prompts(engine, prompts: list[tuple], per_prompt: int, bars: int, seed: int, log,
                         mode: str = "generate", openings: dict | None = None, temperature: float = 1.2,
                         max_tries: int = 8) -> dict:
    """mode "generate": new pieces from the prompt alone (the model writes the header);
    "continue": `bars` bars after the opening of a real held-out piece of the prompt."""
    from notabridge.engine.sampling import Sampling
    out = {}
    for i, prompt in enumerate(prompts):
        started = time.monotonic()
        lines = prompt_lines(prompt)
        variants, errors = [], []
        if mode == "continue" and (openings or {}).get(prompt) is None:
            continue
        sampling = Sampling(seed=seed + 1000 * i, temperature=temperature)
        try:  # one call, `per_prompt` variants decoded side by side; an unfinished one says so itself
            if mode == "continue":
                produced = engine.continue_(openings[prompt], bars=bars, sampling=sampling, max_tries=max_tries,
                                            variants=per_prompt)
            else:
                produced = engine.generate(lines, bars=bars, sampling=sampling, max_tries=max_tries,
                                           variants=per_prompt)
        except Exception as exc:  # noqa: BLE001 - a prompt the model could not serve is counted
            produced, errors = [], [str(exc)] * per_prompt
        errors += list(getattr(produced, "gave_up", []))   # variants that wrote no bar are left out
        for v in produced:
            if v.complete:
                variants.append(v)
            else:
                errors.append(v.warning or "not finished")
        if not variants:
            log(f"  {' / '.join(prompt)}: no piece finished: {errors[-1]}")
            out[prompt] = {"error": errors[-1], "failed_pieces": len(errors)}
            continue
        stats, failed = [], 0
        for v in variants:
            try:
                stats.append(excerpt_notes(v.header + "".join(v.bars)))  # the new bars only
            except Exception:  # noqa: BLE001 - output the notation layer cannot read
                failed += 1
        out[prompt] = {"valid_first_try": float(np.mean([v.valid_first_try for v in variants])),
                       "stats": merge(stats) if stats else None, "unreadable": failed,
                       "seconds": time.monotonic() - started, "abc": [v.abc for v in variants],
                       "pieces": [{"header": v.header, "bars": list(v.bars), "abc": v.abc} for v in variants],
                       "rejected_bars": sum(v.rejected_bars for v in variants), "failed_pieces": len(errors)}
        log(f"  {' / '.join(prompt)}: {len(variants)} pieces ({len(errors)} not finished), valid first try "
            f"{out[prompt]['valid_first_try']:.2f}, {out[prompt]['seconds']:.1f} s")
    return out


# ---------------------------------------------------------------- what a musician hears

def first_bars_text(abc_text: str, bars: int) -> str | None:
    """Header (no prompt lines) and the first `bars` bars of a piece; None when it is shorter."""
    from notabridge.abc.patching import split_piece
    piece = split_piece(abc_text)
    if len(piece.body) < bars:
        return None
    return "".join(line for line in piece.header if not line.startswith("%")) + "".join(piece.body[:bars])


def real_reference(pieces: list[Piece], key_pieces: int = 15, bars: int = 8) -> dict:
    """Per-voice median register and key agreement of real pieces of one prompt: over whole
    pieces, and over their first `bars` bars (as long as a generated piece, so comparable)."""
    from notabridge.abc.patching import split_piece

    from .musician import key_agreement, voice_pitches
    pitches: dict[str, list[int]] = {}
    for p in pieces:
        for v, notes in voice_pitches(split_piece(p.abc).body).items():
            pitches.setdefault(v, []).extend(notes)

    def agreement(texts: list[str]) -> float | None:
        found = []
        for text in texts:
            try:
                found.append(key_agreement(text))
            except Exception:  # noqa: BLE001 - a real piece the notation layer cannot read
                pass
        found = [a for a in found if a is not None]
        return float(np.mean(found)) if found else None
    openings = [t for t in (first_bars_text(p.abc, bars) for p in pieces) if t][:key_pieces]
    return {"register": {v: float(np.median(n)) for v, n in pitches.items() if n},
            "key_agreement": agreement([p.abc for p in pieces[:key_pieces]]),
            "key_agreement_bars": agreement(openings)}


def real_classifier(pieces_by_prompt: dict[tuple, list[Piece]], per_prompt: int, bars: int) -> dict | None:
    """The prompt classifier on real pieces, as many per prompt and as many bars as generated:
    what the measure reaches on the music the model learnt from (its ceiling at this size)."""
    from .musician import piece_features
    features, labels = [], []
    for prompt, pieces in pieces_by_prompt.items():
        taken = 0
        for p in pieces:
            text = first_bars_text(p.abc, bars)
            if text is None:
                continue
            try:
                features.append(piece_features(text))
            except Exception:  # noqa: BLE001 - a real piece the notation layer cannot read
                continue
            labels.append(prompt)
            taken += 1
            if taken >= per_prompt:
                break
    return classify(features, labels) if len(set(labels)) >= 2 else None


def classify(features: list[np.ndarray], labels: list[tuple]) -> dict:
    """The leave-one-out prompt classifier, and the same over the prompts' periods (Folk,
    Baroque, ...): prompts of one period (five folk collections, four Renaissance choirs) are
    hard to tell apart even in real music."""
    from .musician import nearest_centroid_loo
    x = np.stack(features)
    accuracy, chance = nearest_centroid_loo(x, labels)
    period, period_chance = nearest_centroid_loo(x, [label[0] for label in labels])
    return {"accuracy": accuracy, "chance": chance, "pieces": len(labels), "prompts": len(set(labels)),
            "period_accuracy": period, "period_chance": period_chance}


def hear(generated: dict, prompts: list[tuple], mode: str, bars: int, real: dict, training_names: set[str],
         openings: dict) -> dict:
    """Voices sounding, key agreement, register, part names, bar counts and the prompt
    classifier over the pieces generated in one mode."""
    from notabridge.abc.patching import split_piece

    from .musician import (declared_voices, key_agreement, median_register, part_names,
                           piece_features, voices_sounding)
    rows, features, labels = [], [], []
    for prompt in prompts:
        pieces = (generated.get(prompt) or {}).get("pieces") or []
        if not pieces:
            continue
        all_sound, voice_sound, agree, gaps, within, names_out, short = [], [], [], [], [], set(), 0
        given = median_register(split_piece(openings[prompt]).body) if mode == "continue" and openings.get(prompt) else {}
        for piece in pieces:
            header = [line for line in piece["header"].splitlines(keepends=True) if not line.startswith("%")]
            new = piece["bars"]
            short += len(new) < bars
            sounding = voices_sounding(header, new)
            all_sound += [all(b.values()) for b in sounding if b]
            voice_sound += [x for b in sounding for x in b.values()]
            text = "".join(header) + "".join(new)
            try:
                a = key_agreement(text)
                if a is not None:
                    agree.append(a)
            except Exception:  # noqa: BLE001 - counted as not agreeing: the notes cannot be read
                agree.append(False)
            registers = median_register(new)
            reference = given if mode == "continue" else (real.get(prompt) or {}).get("register", {})
            for v, median in registers.items():
                if v in reference:
                    gaps.append(abs(median - reference[v]))
                    within.append(abs(median - reference[v]) <= 5)
            names_out |= {n for n in part_names(header) if n not in training_names}
            try:
                features.append(piece_features(text))
                labels.append(prompt)
            except Exception:  # noqa: BLE001 - left out of the classifier
                pass
        rows.append({"prompt": list(prompt), "pieces": len(pieces), "short_pieces": short,
                     "voices_declared": float(np.mean([len(declared_voices(p["header"].splitlines())) for p in pieces])),
                     "all_voices_sound": float(np.mean(all_sound)) if all_sound else None,
                     "voice_bars_sound": float(np.mean(voice_sound)) if voice_sound else None,
                     "key_agreement": float(np.mean(agree)) if agree else None,
                     "real_key_agreement": (real.get(prompt) or {}).get("key_agreement"),
                     "real_key_agreement_bars": (real.get(prompt) or {}).get("key_agreement_bars"),
                     "register_gap": float(np.median(gaps)) if gaps else None,
                     "register_within_5": float(np.mean(within)) if within else None,
                     "names_outside_training": sorted(names_out)})
    out: dict = {"rows": rows}
    if len(set(labels)) >= 2:
        out["classifier"] = classify(features, labels)
    agree_all = [r["key_agreement"] for r in rows if r["key_agreement"] is not None]
    out["key_agreement"] = float(np.mean(agree_all)) if agree_all else None
    real_bars = [r["real_key_agreement_bars"] for r in rows if r["real_key_agreement_bars"] is not None]
    out["real_key_agreement_bars"] = float(np.mean(real_bars)) if real_bars else None
    return out


def print_hearing(h: dict) -> None:
    print(f"\n{'prompt':55s} {'pieces':>6s} {'short':>5s} {'all-voices':>10s} {'voice-bars':>10s} "
          f"{'key=sig gen/real/real-N':>23s} {'reg gap':>7s} {'<=5st':>5s}  names outside training")

    def f(x, spec=".2f"):
        return "-" if x is None else format(x, spec)
    for r in h["rows"]:
        print(f"{' / '.join(r['prompt'])[:55]:55s} {r['pieces']:6d} {r['short_pieces']:5d} {f(r['all_voices_sound']):>10s} "
              f"{f(r['voice_bars_sound']):>10s} "
              f"{f(r['key_agreement']) + '/' + f(r['real_key_agreement']) + '/' + f(r.get('real_key_agreement_bars')):>23s} "
              f"{f(r['register_gap'], '.1f'):>7s} {f(r['register_within_5']):>5s}  {', '.join(r['names_outside_training'])}")
    if "classifier" in h:
        c = h["classifier"]
        print(f"prompt classifier (leave-one-out nearest centroid, {c['pieces']} pieces, {c['prompts']} prompts): "
              f"{c['accuracy']:.2f} (chance {c['chance']:.2f}); by period {c['period_accuracy']:.2f} "
              f"(chance {c['period_chance']:.2f})")
    if h.get("real_classifier"):
        c = h["real_classifier"]
        print(f"  the same classifier on real pieces of the corpus ({c['pieces']} pieces, first bars as long as "
              f"the generated ones): {c['accuracy']:.2f}; by period {c['period_accuracy']:.2f}")
    if h.get("key_agreement") is not None:
        print(f"key agreement: generated {h['key_agreement']:.2f}, real pieces' openings of the same length "
              f"{f(h.get('real_key_agreement_bars'))}")


def derangement(n: int, rng: random.Random) -> list[int]:
    if n < 2:
        return list(range(n))
    while True:
        order = list(range(n))
        rng.shuffle(order)
        if all(i != j for i, j in enumerate(order)):
            return order


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", help="model bundle folder")
    p.add_argument("--data", default="work_data/corpus", help="corpus directory (training.corpus output)")
    p.add_argument("--max-pieces", type=int, default=60, help="validation pieces to score (0 = all)")
    p.add_argument("--ngram-order", type=int, default=6)
    p.add_argument("--ngram-chars", type=int, default=1_500_000, help="training characters for the n-gram")
    p.add_argument("--per-prompt", type=int, default=6, help="pieces generated per prompt (0 = no generation)")
    p.add_argument("--modes", default="generate,continue",
                   help="generate (from the prompt alone) and/or continue (after 2 bars of a real piece)")
    p.add_argument("--bars", type=int, default=8, help="bars per generated piece")
    p.add_argument("--given-bars", type=int, default=2, help="bars of the real piece a continuation starts after")
    p.add_argument("--temperature", type=float, default=1.2, help="sampling temperature (NotaGen's default 1.2)")
    p.add_argument("--max-tries", type=int, default=8, help="resamples of an invalid bar before a piece is given up")
    p.add_argument("--prompts", type=int, default=0, help="evaluate only the first N prompts of the bundle (0 = all)")
    p.add_argument("--real-pieces", type=int, default=40, help="real pieces per prompt for the reference statistics")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (1 is fastest on a busy machine)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-scoring", action="store_true", help="skip bits per char and the n-gram (generation only)")
    p.add_argument("--baseline-bundle", help="another bundle (e.g. the previous model) scored on the same pieces")
    p.add_argument("--out", help="write the report as JSON here")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, flush=True)

    from notabridge.abc.patching import split_piece
    from notabridge.engine.bundle import load_bundle

    from .musician import part_names
    bundle = load_bundle(args.bundle, "cpu", threads=args.threads)
    data = Path(args.data)
    train, valid = read_jsonl(data / "train.jsonl"), read_jsonl(data / "validation.jsonl")
    rng = random.Random(args.seed)
    scored = valid if not args.max_pieces else rng.sample(valid, min(args.max_pieces, len(valid)))
    report: dict = {"bundle": str(args.bundle), "validation_pieces": len(scored)}

    if args.no_scoring:
        scored = []
    t = time.monotonic()
    bpc, chars = validation_bpc(bundle, scored) if scored else (math.nan, 0)
    report["model_bits_per_char"] = bpc
    report["validation_chars"] = chars
    log(f"model: {bpc:.3f} bits/char on {len(scored)} validation pieces ({chars} chars, {time.monotonic() - t:.0f} s)")
    if args.baseline_bundle and scored:
        t = time.monotonic()
        base = load_bundle(args.baseline_bundle, "cpu", threads=args.threads)
        report["baseline"] = {"bundle": str(args.baseline_bundle), "bits_per_char": validation_bpc(base, scored)[0]}
        log(f"baseline {args.baseline_bundle}: {report['baseline']['bits_per_char']:.3f} bits/char on the same pieces "
            f"({time.monotonic() - t:.0f} s)")
    t = time.monotonic()
    nbpc, used = ngram_bpc(train, scored, args.ngram_order, args.ngram_chars) if scored else (math.nan, 0)
    report["ngram"] = {"order": args.ngram_order, "training_chars": used, "bits_per_char": nbpc}
    log(f"{args.ngram_order}-gram baseline: {nbpc:.3f} bits/char (trained on {used} chars, {time.monotonic() - t:.0f} s)")

    if args.per_prompt:
        from notabridge.engine import Engine
        engine = Engine(bundle)
        prompts = [tuple(x) for x in bundle.info.get("prompts", [])] or sorted({p.prompt for p in train})
        if args.prompts:
            prompts = prompts[: args.prompts]
        real = {}
        for prompt in prompts:
            stats = []
            for piece in [p for p in train + valid if p.prompt == prompt][: args.real_pieces]:
                try:
                    stats.append(excerpt_notes(piece.abc))
                except Exception:  # noqa: BLE001 - a real piece the notation layer cannot read
                    pass
            real[prompt] = merge(stats) if stats else None
        openings = {q: opening(valid, q, args.given_bars) or opening(train, q, args.given_bars) for q in prompts}
        names = {n for p in train for n in part_names(split_piece(p.abc).header)}
        references = {q: real_reference([p for p in valid + train if p.prompt == q][: args.real_pieces], bars=args.bars)
                      for q in prompts}
        ceiling = real_classifier({q: [p for p in valid + train if p.prompt == q] for q in prompts},
                                  args.per_prompt, args.bars)
        for mode in args.modes.split(","):
            log(f"{mode}: {args.per_prompt} x {args.bars} bars for {len(prompts)} prompts")
            generated = generate_for_prompts(engine, prompts, args.per_prompt, args.bars, args.seed, log, mode, openings,
                                             args.temperature, args.max_tries)
            report[mode] = compare_with_real(generated, real, prompts, rng, args)
            print_generation_table(report[mode])
            report[mode]["hearing"] = hear(generated, prompts, mode, args.bars, references, names, openings)
            if mode == "generate":  # continuations share one real opening per prompt: no ceiling to compare
                report[mode]["hearing"]["real_classifier"] = ceiling
            print_hearing(report[mode]["hearing"])
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
        log(f"report written to {args.out}")
    return 0


def compare_with_real(generated: dict, real: dict, prompts: list[tuple], rng: random.Random, args) -> dict:
    usable = [q for q in prompts if (generated.get(q) or {}).get("stats") and real.get(q)]
    shuffle = derangement(len(usable), rng)
    rows = []
    for i, prompt in enumerate(usable):
        matched = distances(generated[prompt]["stats"], real[prompt])
        other = usable[shuffle[i]]
        shuffled = distances(generated[other]["stats"], real[prompt])
        rows.append({"prompt": list(prompt), "valid_first_try": generated[prompt]["valid_first_try"],
                     "rejected_bars": generated[prompt]["rejected_bars"],
                     "finished": f"{args.per_prompt - generated[prompt]['failed_pieces']}/{args.per_prompt}",
                     "matched": matched, "shuffled": shuffled, "shuffled_from": list(other),
                     "real_key_consistency": real[prompt]["in_key"] / max(1, real[prompt]["notes"]),
                     "unreadable": generated[prompt]["unreadable"], "seconds": generated[prompt]["seconds"]})
    gen = {"per_prompt": args.per_prompt, "bars": args.bars, "temperature": args.temperature,
           "max_tries": args.max_tries, "rows": rows,
           "failed_prompts": [[*q, generated[q]["error"]] for q in prompts if "error" in (generated.get(q) or {})],
           "samples": {" / ".join(q): generated[q]["abc"][:1] for q in prompts if "abc" in (generated.get(q) or {})},
           "pieces": {" / ".join(q): generated[q]["abc"] for q in prompts if "abc" in (generated.get(q) or {})}}
    if rows:
        gen["mean"] = {"valid_first_try": float(np.mean([r["valid_first_try"] for r in rows])),
                       "matched": {k: float(np.mean([r["matched"][k] for r in rows])) for k in rows[0]["matched"]},
                       "shuffled": {k: float(np.mean([r["shuffled"][k] for r in rows])) for k in rows[0]["shuffled"]},
                       "real_key_consistency": float(np.mean([r["real_key_consistency"] for r in rows]))}
    return gen


def print_generation_table(gen: dict) -> None:
    print(f"\n{'prompt':55s} {'valid1':>6s} | JS bits (matched / shuffled prompt): {'pitch-cl':>13s} {'interval':>13s} "
          f"{'duration':>13s} | in-key gen/real")
    for r in gen["rows"]:
        m, s = r["matched"], r["shuffled"]
        print(f"{' / '.join(r['prompt'])[:55]:55s} {r['valid_first_try']:6.2f} | {'':38s}"
              f"{m['pcs']:6.3f}/{s['pcs']:6.3f} {m['intervals']:6.3f}/{s['intervals']:6.3f} "
              f"{m['durations']:6.3f}/{s['durations']:6.3f} | {m['key_consistency']:.2f}/{r['real_key_consistency']:.2f}")
    if "mean" in gen:
        m, s = gen["mean"]["matched"], gen["mean"]["shuffled"]
        print(f"{'mean':55s} {gen['mean']['valid_first_try']:6.2f} | {'':38s}"
              f"{m['pcs']:6.3f}/{s['pcs']:6.3f} {m['intervals']:6.3f}/{s['intervals']:6.3f} "
              f"{m['durations']:6.3f}/{s['durations']:6.3f} | {m['key_consistency']:.2f}/{gen['mean']['real_key_consistency']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
