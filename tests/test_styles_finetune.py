"""`notabridge finetune` (issue 18) on the tiny test bundle (tests/conftest.py) and a folder of a
few real scores: the bundle's weights come back from its graphs, a short fine-tuning run is
resumable, and the new bundle knows the base prompts plus the new one. The quality targets are
measured by bench/finetune.py on the embedded model, not here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
TUNE = """X:1
T:Test tune {n}
M:3/4
L:1/8
K:G
G2 A2 B2 | c2 B2 A2 | {a} B2 c2 | d6 | B2 A2 G2 | A2 B2 c2 | B2 A2 G2 | G6 |]
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notabridge.cli.main", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=900)


def _folder(path: Path, n: int = 4) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for k, a in enumerate(["A2", "d2", "e2", "G2", "B2"][:n]):
        (path / f"tune{k}.abc").write_text(TUNE.format(n=k, a=a))
    return path


def test_bundle_weights_read_back_give_the_same_likelihoods(tiny_bundle, tmp_path):
    from notabridge.engine.bundle import load_bundle
    from notabridge.engine.scoring import score_abc
    from notabridge.onnx_export.checkpoint import load_model
    from notabridge.onnx_export.from_bundle import bundle_to_checkpoint
    from notabridge.onnx_export.torch_scoring import model_logits_fn

    model = load_model(bundle_to_checkpoint(tiny_bundle, tmp_path / "back.pth"))
    piece = "%%score 1\nL:1/8\nM:3/4\nK:G\nV:1 treble\n[V:1]G2 A2 B2|\n[V:1]c2 B2 A2|\n"
    onnx_side = score_abc(load_bundle(tiny_bundle, device="cpu"), piece)
    torch_side = score_abc(model_logits_fn(model), piece, context=model.sizes.patch_length)
    assert np.isclose(onnx_side.nats, torch_side.nats, rtol=1e-4)


def test_finetune_writes_a_bundle_with_the_new_prompt_and_resumes(tiny_bundle, tmp_path):
    folder = _folder(tmp_path / "mine")
    out = tmp_path / "mine_bundle"
    first = _cli("finetune", str(folder), "--name", "My style", "-o", str(out), "--base", str(tiny_bundle),
                 "--minutes", "0.05", "--quiet")
    assert first.returncode == 0, first.stderr + first.stdout
    assert "held-out bits/char" in first.stdout
    # another base's training pieces are not at hand: no rehearsal, and the output says how to have it
    assert "rehearsal skipped" in first.stdout and "--rehearsal-corpus" in first.stdout
    prompts = json.loads((out / "prompts.json").read_text())
    assert prompts[-1] == ["Custom", "My style", "Custom"] and len(prompts) == 3    # the tiny bundle's two + the new
    assert json.loads((out / "config.json").read_text())["name"] == "My style"
    assert (out / "bar_index.npz").is_file() and "My style" in (out / "MODEL_CARD.md").read_text()
    converted = json.loads((out / ".finetune/corpus/train.jsonl").read_text().splitlines()[0])["abc"]
    (tmp_path / "interleaved.abc").write_text(converted)      # the notation layer reads NotaGen's ABC only
    suggested = _cli("suggest-prompt", str(tmp_path / "interleaved.abc"), "--model", str(out), "--device", "cpu", "--json")
    assert suggested.returncode == 0, suggested.stderr
    assert len(json.loads(suggested.stdout)["suggestions"]) == 3
    again = _cli("finetune", str(folder), "--name", "My style", "-o", str(out), "--base", str(tiny_bundle),
                 "--minutes", "0.1", "--quiet")
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout and "resumed finetune" in again.stdout


def test_finetune_refuses_an_empty_or_unreadable_folder(tiny_bundle, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = _cli("finetune", str(empty), "--name", "X", "-o", str(tmp_path / "o1"), "--base", str(tiny_bundle))
    assert out.returncode == 1 and "holds no scores" in out.stderr and "Traceback" not in out.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.musicxml").write_text("<not music")
    (broken / "b.mid").write_bytes(b"MThd garbage")
    out = _cli("finetune", str(broken), "--name", "X", "-o", str(tmp_path / "o2"), "--base", str(tiny_bundle))
    assert out.returncode == 1 and "none of the scores" in out.stderr and "a.musicxml" in out.stderr
    missing = _cli("finetune", str(tmp_path / "nowhere"), "--name", "X", "-o", str(tmp_path / "o3"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr


def test_finetune_mixes_in_pieces_of_the_competing_prompts_under_their_own_prompts(tiny_bundle, tmp_path):
    from notabridge.abc.prompt import prompt_text
    from notabridge.engine.bundle import load_bundle
    from notabridge.engine.runtime import Runner
    from notabridge.jobs.suggest import rank_prompts
    from tests.model_helpers import TINY_PROMPTS
    from training.data import piece_text, read_jsonl
    from training.finetune import REHEARSAL_PER_PIECE, convert_folder

    unlisted = ("Modern", "Nobody", "Keyboard")          # in the base's corpus, not among its prompts
    base_corpus = tmp_path / "base_corpus"
    base_corpus.mkdir()
    offered = []
    for prompt in [*map(tuple, TINY_PROMPTS), unlisted]:
        records, _ = convert_folder(_folder(tmp_path / "src" / prompt[1], 3), prompt, keys=0)
        offered += [{**r, "id": f"{prompt[1]}/{r['id']}"} for r in records]
    (base_corpus / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in offered))
    out = tmp_path / "mine_bundle"
    args = ["finetune", str(_folder(tmp_path / "mine")), "--name", "My style", "-o", str(out), "--base",
            str(tiny_bundle), "--rehearsal-corpus", str(base_corpus), "--quiet", "--minutes"]
    run = _cli(*args, "0.05")
    assert run.returncode == 0, run.stderr + run.stdout
    assert "rehearsal: " in run.stdout and "ranking the base model's prompts" in run.stdout

    lines = [json.loads(x) for x in (out / ".finetune/corpus/train.jsonl").read_text().splitlines()]
    own, mixed = [r for r in lines if not r.get("rehearsal")], [r for r in lines if r.get("rehearsal")]
    # the competing prompts: the base's prompts the user's pieces are likeliest under (suggest-prompt's
    # scores summed over the pieces), likeliest first; never one the base does not list
    runner = Runner(load_bundle(tiny_bundle, device="cpu"))
    nats = {tuple(p): 0.0 for p in TINY_PROMPTS}
    for r in own:
        for s in rank_prompts(runner, list(nats), r["abc"])[0]:
            nats[s.prompt] += s.nats
    job = json.loads((out / ".finetune/job.json").read_text())
    assert [tuple(p) for p in job["rehearsal"]["prompts"]] == sorted(nats, key=nats.get)
    # the user's pieces (trained on and held out) are to be unlikelier under exactly those prompts
    # (training.contrast's margin loss), and each check reports how many held-out pieces rank the new one first
    held = [json.loads(x) for x in (out / ".finetune/corpus/validation.jsonl").read_text().splitlines()]
    assert all(r["contrast"] == job["rehearsal"]["prompts"] for r in own + held)
    assert "margin: " in run.stdout
    assert "own prompt first on " in (out / ".finetune/run/train.log").read_text()
    # pieces of exactly those prompts, from the base's corpus, REHEARSAL_PER_PIECE per piece of the user's at most
    assert mixed and {tuple(r["prompt"]) for r in mixed} == set(nats)
    assert {r["id"] for r in mixed} <= {r["id"] for r in offered} and len(mixed) <= REHEARSAL_PER_PIECE * len(own)
    # trained on under their own prompt lines, the user's pieces under the new one
    for piece in read_jsonl(out / ".finetune/corpus/train.jsonl"):
        assert piece_text(piece, "finetune").startswith(prompt_text(piece.prompt))
        assert (piece.prompt == ("Custom", "My style", "Custom")) == (piece.id in {r["id"] for r in own})
    # resuming reuses the choice and the pieces (kept in OUT/.finetune), it does not rank again
    again = _cli(*args, "0.1")
    assert again.returncode == 0, again.stderr + again.stdout
    assert "resuming" in again.stdout and "ranking the base model's prompts" not in again.stdout
    assert (out / ".finetune/corpus/train.jsonl").read_text().splitlines() == [json.dumps(r) for r in lines]


def test_rehearsal_pieces_of_the_embedded_model_are_its_training_pieces_from_music21():
    from training.corpus import corpus_root, is_validation, make_tasks
    from training.heldout import FOLK_PER_COLLECTION, VALIDATION_SHARE
    from training.rehearsal import from_music21, music21_sources

    essen = ("Folk", "Essen Folksong Collection", "Melody")
    assert music21_sources([("Custom", "Mine", "Custom"), essen]) == [essen]
    got = from_music21([essen], 4, seconds=120)
    sampled = {f"essen/{t.path[:-4]}#{i}" for t in make_tasks(corpus_root(), FOLK_PER_COLLECTION)
               if t.source.prompt == essen for i in t.tunes}
    assert len(got) == 4 and all(tuple(r["prompt"]) == essen and r["finetune"] for r in got)
    assert all(r["id"] in sampled and not is_validation(r["id"], VALIDATION_SHARE) for r in got)


def test_finetune_outside_the_checkout_says_where_to_run_it(tmp_path):
    """training/ lives in the repository, not in the installed package: from any other folder the
    command says so instead of blaming a missing torch."""
    (tmp_path / "songs").mkdir()
    done = subprocess.run([sys.executable, "-m", "notabridge.cli.main", "finetune", str(tmp_path / "songs"),
                           "--name", "Mine", "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "cd into the repository" in done.stdout + done.stderr
    assert not (tmp_path / "out").exists()


def test_a_folder_of_30_pieces_holds_out_4_and_always_the_same():
    """The held-out pieces pick the checkpoint: a share by hash alone held out 1 of Chopin's 30 Mazurkas
    (bench/finetune.py --composer chopin), so the count is fixed and the choice follows the file names."""
    from training.finetune import split

    records = [{"id": f"BI{n}op{n % 7}.musicxml"} for n in range(30)]
    train, held = split(records)
    assert (len(train), len(held)) == (26, 4)
    assert split(list(reversed(records)))[1] == list(reversed(held))
    assert {r["id"] for r in train} | {r["id"] for r in held} == {r["id"] for r in records}
    assert split(records[:2])[1] and not split(records[:1])[1]
