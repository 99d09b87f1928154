"""Write MODEL_CARD.md of a bundle trained with training/: data, licence terms, size, training
time and the evaluation report.

    python -m training.model_card BUNDLE --checkpoint runs/x/best.pth --corpus work_data/corpus \
        [--eval report.json] [--selection NOTES.md]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

LICENCE = """\
The training data is music21's bundled corpus (installed with `pip install music21`). Its
licence text (music21/corpus/license.txt) says:

> Some encodings included in the corpus may not be used for commercial uses or have other
> restrictions: please see the licenses embedded in individual compositions or directories
> for more details.

and, for what this model was trained on:

- **Essen folk songs** (music21/corpus/essenFolksong/license.txt): "Prof. AMU Dr. Habil. Ewa
  Dahlig-Turek [...] has given permission for non-commercial distribution and use of these
  files in music21." The legal status of the database "is unclear, as the data has been input
  by many people".
- **Palestrina** (.krn headers): "Copyright 2000, John Miller", "Rights to all derivative
  electronic formats reserved. Refer to licensing agreement for further details."
- Bach chorales, Monteverdi, trecento pieces, string quartets, piano pieces and songs: MusicXML
  encodings distributed with music21 under the corpus licence above (some carry their own
  rights notes); O'Neill's, Ryan's and Aird's collections, the Nottingham Music Database tunes
  and the American fife and Northumbrian minstrelsy books: ABC transcriptions contributed by
  volunteers (named in the files).

**Use this model for research and other non-commercial purposes only.** Whether a model
trained on these encodings is a "derivative electronic format" is not settled; we make no
claim that it is not. The compositions themselves are in the public domain.
"""


def table(rows: list[tuple[str, str]]) -> str:
    return "| | |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows) + "\n"


def corpus_section(stats: dict) -> str:
    lines = ["| prompt (period / composer / instrumentation) | training pieces | characters | validation pieces |",
             "|---|---:|---:|---:|"]
    for p in stats["prompts"]:
        lines.append(f"| {' / '.join(p['prompt'])} | {p['train_pieces']} | {p['train_chars']:,} | {p['validation_pieces']} |")
    t = stats["total"]
    lines.append(f"| **total** | {t['train_pieces']} | {t['train_chars']:,} | {t['validation_pieces']} |")
    return "\n".join(lines) + "\n\nCharacters: the original-key interleaved ABC without prompt lines.\n"


def eval_section(report: dict, first: bool = True) -> str:
    out = []
    if first:
        out += [f"Held-out pieces ({report['validation_pieces']}, {report['validation_chars']:,} characters, "
           "scored with their prompt lines through ONNX Runtime, every patch after the first as in NotaGen's loss):",
           "",
           "| model | bits per character |", "|---|---:|",
           f"| this model | {report['model_bits_per_char']:.3f} |"]
        if report.get("baseline"):
            out.append(f"| {report['baseline'].get('name', report['baseline']['bundle'])} | "
                       f"{report['baseline']['bits_per_char']:.3f} |")
        out += [
           f"| character {report['ngram']['order']}-gram (Witten-Bell), same training pieces "
           f"({report['ngram']['training_chars']:,} chars) | {report['ngram']['bits_per_char']:.3f} |", ""]
    else:
        setting = report.get("continue") or report.get("generate") or {}
        out = [f"#### The same with temperature {setting.get('temperature')} and up to {setting.get('max_tries')} "
               "resamples per bar", ""]
    titles = {"generate": "New pieces from the prompt alone (the model writes the header too)",
              "continue": "Continuations: new bars after the header and first 2 bars of a real held-out piece of the prompt"}
    for mode, title in titles.items():
        gen = report.get(mode)
        if not gen:
            continue
        out += [f"### {title}", "", f"{gen['per_prompt']} pieces of {gen['bars']} bars per prompt (notabridge.engine, "
                f"temperature {gen.get('temperature', 1.2)}, top-k 9, top-p 0.9, an invalid bar resampled up to "
                f"{gen.get('max_tries', 8)} times before the piece is given up). Statistics against the real pieces of the same prompt, as Jensen-Shannon divergence in bits "
                "(lower = closer); *shuffled* = the pieces generated for a different prompt compared with this "
                "prompt's real pieces (the baseline: if the prompt steers the music, matched < shuffled). Key "
                "consistency = share of notes inside the key signature's scale (generated / real).", "",
                "| prompt | pieces finished | bars valid on 1st try | pitch class (matched / shuffled) | interval | duration | in key (gen / real) |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for r in gen["rows"]:
            m, s = r["matched"], r["shuffled"]
            out.append(f"| {' / '.join(r['prompt'])} | {r.get('finished', '')} | {r['valid_first_try']:.2f} | {m['pcs']:.3f} / {s['pcs']:.3f} | "
                       f"{m['intervals']:.3f} / {s['intervals']:.3f} | {m['durations']:.3f} / {s['durations']:.3f} | "
                       f"{m['key_consistency']:.2f} / {r['real_key_consistency']:.2f} |")
        if "mean" in gen:
            m, s = gen["mean"]["matched"], gen["mean"]["shuffled"]
            out.append(f"| **mean** | | {gen['mean']['valid_first_try']:.2f} | {m['pcs']:.3f} / {s['pcs']:.3f} | "
                       f"{m['intervals']:.3f} / {s['intervals']:.3f} | {m['durations']:.3f} / {s['durations']:.3f} | "
                       f"{m['key_consistency']:.2f} / {gen['mean']['real_key_consistency']:.2f} |")
        failed = gen.get("failed_prompts") or []
        if failed:
            kinds = {}
            for f in failed:
                what = "no valid header" if "valid header" in f[3] else "no valid bar" if "valid bar" in f[3] else f[3][:60]
                kinds.setdefault(what, []).append(f[1])
            out.append(f"\nNo piece for {len(failed)} of {len(failed) + len(gen['rows'])} prompts: "
                       + " — ".join(f"{what} within the tries ({'; '.join(names)})" for what, names in kinds.items()))
        if gen.get("hearing"):
            out += ["", hearing_section(gen["hearing"], mode)]
        out.append("")
    return "\n".join(out) + "\n"


def hearing_section(h: dict, mode: str) -> str:
    """The musician's measures of one generation mode (training.evaluate.hear)."""
    def f(x, spec=".2f"):
        return "–" if x is None else format(x, spec)
    reference = "the given bars of the same voice" if mode == "continue" else "the same voice in the real pieces of the prompt"
    out = [f"What a musician hears: *all voices* = share of bars where every declared voice has a note; "
           f"*voice-bars* = share of (voice, bar) pairs with a note; *key = signature* = share of pieces whose key "
           f"analysed by music21 (Krumhansl-Schmuckler) has the key signature written (generated / whole real pieces / "
           f"real pieces' openings as long as the generated ones); "
           f"*register* = median distance in semitones between each voice's median pitch and {reference}, and "
           f"the share within 5 semitones; *short* = finished pieces with fewer bars than asked; names = part "
           f"names that no training piece uses.", "",
           "| prompt | voices | all voices | voice-bars | key = signature (gen / real / real openings) | register gap | within 5 | short | names outside training |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in h["rows"]:
        out.append(f"| {' / '.join(r['prompt'])} | {r['voices_declared']:.1f} | {f(r['all_voices_sound'])} | "
                   f"{f(r['voice_bars_sound'])} | {f(r['key_agreement'])} / {f(r['real_key_agreement'])} / "
                   f"{f(r.get('real_key_agreement_bars'))} | "
                   f"{f(r['register_gap'], '.1f')} | {f(r['register_within_5'])} | {r['short_pieces']} | "
                   f"{', '.join(r['names_outside_training']) or 'none'} |")
    if h.get("key_agreement") is not None:
        out.append(f"\nKey = signature over all prompts: {h['key_agreement']:.2f} (real openings of the same length: "
                   f"{f(h.get('real_key_agreement_bars'))}).")
    if "classifier" in h:
        c = h["classifier"]
        out.append(f"Prompt classifier (leave-one-out nearest centroid over per-piece statistics: pitch classes, "
                   f"intervals, durations, voices, mean pitch, note density, rests, voices sounding; "
                   f"{c['pieces']} pieces of {c['prompts']} prompts): **{c['accuracy']:.2f}** (chance {c['chance']:.2f}); "
                   f"telling only the period: {c['period_accuracy']:.2f} (chance {c['period_chance']:.2f}).")
    if h.get("real_classifier"):
        c = h["real_classifier"]
        out.append(f"The same classifier on real pieces of the corpus, as many per prompt and cut to as many bars "
                   f"({c['pieces']} pieces): {c['accuracy']:.2f}, by period {c['period_accuracy']:.2f}: what the "
                   f"measure itself reaches at this size.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.model_card", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle")
    p.add_argument("--checkpoint", required=True, help="the training checkpoint the bundle was exported from")
    p.add_argument("--corpus", required=True, help="corpus directory (stats.json)")
    p.add_argument("--eval", action="append", default=[],
                   help="training.evaluate JSON report (repeat for runs with other sampling settings)")
    p.add_argument("--training", help="the card's 'training' row (default: read off the checkpoint)")
    p.add_argument("--recipe", help="the card's 'recipe' row (default: read off the checkpoint's arguments)")
    p.add_argument("--intro", help="the card's opening paragraph (default: a model trained from scratch)")
    p.add_argument("--notes", help="a Markdown file appended as 'How it was made' (size choice, run notes)")
    args = p.parse_args(argv)

    import torch
    blob = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    prog = blob.get("progress", {})
    arguments = prog.get("arguments", {})
    bundle = Path(args.bundle)
    config = json.loads((bundle / "config.json").read_text())
    size = sum(f.stat().st_size for f in bundle.iterdir() if f.suffix == ".onnx")
    stats = json.loads((Path(args.corpus) / "stats.json").read_text())
    prompts = json.loads((bundle / "prompts.json").read_text()) if (bundle / "prompts.json").is_file() else []

    text = [f"# {config.get('name', bundle.name)}: NotaBridge's embedded default model\n",
            (args.intro.rstrip() + "\n" if args.intro else None) or "A small NotaGen-architecture model trained from scratch on this machine (2 shared CPU cores) on "
            "music21's bundled corpus, so that NotaBridge works offline out of the box. It is far smaller and "
            "weaker than NotaGen's released models: export a real NotaGen checkpoint with `notabridge export` "
            "for serious use.\n",
            table([("shape", f"d={config['hidden_size']}, {config['patch_num_layers']} patch layers, "
                             f"{config['char_num_layers']} char layers, context {config['patch_length']} patches of 16"),
                   ("parameters", f"{config['parameters']:,}"),
                   ("precision / size", f"{config['precision']}, {size / 2**20:.1f} MiB of ONNX graphs"),
                   ("training", args.training or f"{prog.get('elapsed', 0) / 60:.0f} min on CPU, {prog.get('step', 0)} optimizer steps, "
                                f"{prog.get('chars', 0) / 1e6:.1f} M characters seen; last phase: {prog.get('phase')}"),
                   ("recipe", args.recipe or f"NotaGen's objective; pre-training (no prompt lines, keys of 15) at lr "
                              f"{arguments.get('lr')}, then prompt fine-tuning (prompt lines, keys within +-3 "
                              f"semitones) at lr {arguments.get('finetune_lr')}; AdamW, warm-up then constant; "
                              f"batches of {arguments.get('batch_patches')} patches"),
                   ("best validation loss (fine-tuning format)",
                    f"{blob.get('min_eval_loss', math.nan):.4f} nats/char = "
                    f"{blob.get('min_eval_loss', math.nan) / math.log(2):.3f} bits/char"),
                   ("prompts", f"{len(prompts)} (prompts.json)")]),
            "## Training data\n",
            "music21's corpus converted by `python -m training.corpus` through NotaGen's own data chain "
            "(notabridge.notation.notagen_chain: xml2abc with NotaGen's settings, its cleanup, bar check, "
            "annotation rules and key normalisation, interleaved bar lines with rest reduction; key-shifted copies "
            "transposed before interleaving, as NotaGen does), deduplicated and split into training and "
            "validation by piece. Prompts come from where a piece sits in the corpus (the period and instrumentation are our "
            "labels, e.g. Palestrina's masses = Renaissance / Choral, folk tunes = Folk / <collection> / Melody).\n",
            corpus_section(stats),
            "\n## Licence terms of the data\n", LICENCE,
            "\n## Evaluation\n",
            "`python -m training.evaluate` on this bundle:\n",
            "\n".join(eval_section(json.loads(Path(e).read_text()), first=i == 0) for i, e in enumerate(args.eval))
            if args.eval else "Not evaluated yet.\n"]
    if args.notes:
        text += ["\n## How it was made\n", Path(args.notes).read_text()]
    (bundle / "MODEL_CARD.md").write_text("\n".join(text))
    print(f"wrote {bundle / 'MODEL_CARD.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
