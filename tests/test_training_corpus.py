"""training.corpus on real pieces of music21's corpus: NotaGen-format interleaved ABC with the
style prompt, key-shifted copies, and text that survives NotaGen's patch encoding."""
from __future__ import annotations

import re

import pytest

from notabridge.abc.patching import decode, encode, split_piece, strip_line_prefix
from training.corpus import SOURCES, Task, corpus_root, key_index, make_tasks, run_task
from training.data import Piece, piece_text

SOURCE = {s.name: s for s in SOURCES}


def first_task(name: str) -> Task:
    root = corpus_root()
    return next(t for t in make_tasks(root, folk_per_collection=3) if t.source.name == name)


@pytest.fixture(scope="module")
def records():
    out = {}
    for name in ("bach", "palestrina", "oneill"):
        task = first_task(name)
        if task.tunes:
            task = Task(task.source, task.path, task.tunes[:1])
        recs = run_task((task, str(corpus_root()), 2, 1))
        assert recs and all("error" not in r for r in recs), recs
        out[name] = recs[0]
    return out


@pytest.mark.parametrize("name", ["bach", "palestrina", "oneill"])
def test_pieces_are_notagen_interleaved_abc(records, name):
    rec = records[name]
    assert tuple(rec["prompt"]) == SOURCE[name].prompt
    piece = split_piece(rec["abc"])
    header = "".join(piece.header)
    for field in ("L:1/8", "M:", "K:", "V:1"):
        assert re.search(rf"^{re.escape(field)}", header, flags=re.M), f"{field} missing in\n{header}"
    assert not re.search(r"^[XTCWwZ]:", header, flags=re.M)  # NotaGen removes these fields
    assert piece.body and all(line.startswith("[V:") for line in piece.body)
    voices = len(re.findall(r"^V:\d+", header, flags=re.M))
    assert voices == (1 if name == "oneill" else 4 if name == "bach" else voices)
    assert all(ord(c) < 128 for c in rec["abc"])


@pytest.mark.parametrize("name", ["bach", "palestrina", "oneill"])
def test_patches_round_trip(records, name):
    rec = records[name]
    p = Piece(rec["id"], tuple(rec["prompt"]), rec["abc"], {"pretrain": rec["pretrain"], "finetune": rec["finetune"]})
    text = piece_text(p, "finetune")
    assert text.startswith("".join(f"%{x}\n" for x in rec["prompt"]))
    back = decode(encode(text))
    assert "".join(strip_line_prefix(line) + "\n" for line in back.split("\n") if line) == text


@pytest.mark.parametrize("name", ["bach", "palestrina", "oneill"])
def test_key_shifted_copies(records, name):
    rec = records[name]
    home = key_index(rec["abc"])
    assert len(rec["pretrain"]) == 2 and len(rec["finetune"]) == 1
    bars = len(split_piece(rec["abc"]).body)
    for copy in rec["pretrain"] + rec["finetune"]:
        assert key_index(copy) != home
        assert len(split_piece(copy).body) == bars
        assert copy != rec["abc"]
    for copy in rec["finetune"]:
        shift = (key_index(copy) - home + 6) % 12 - 6
        assert abs(shift) <= 3


@pytest.mark.parametrize("name", ["bach", "palestrina"])
def test_training_text_is_notagen_chain_text(records, name):
    """Every character trained on is what NotaGen's own data chain writes for the file."""
    from notabridge.notation.notagen_chain import notagen_chain
    task = first_task(name)
    chain = notagen_chain(str(corpus_root() / task.path))
    assert records[name]["abc"] == chain.training_text()


def test_a_piece_over_its_time_limit_is_skipped_and_counted():
    task = first_task("palestrina")
    recs = run_task((task, str(corpus_root()), 0, 0, 1e-9))  # far too little time for music21 to parse a file
    assert len(recs) == 1 and recs[0]["error"].startswith("timeout")
