"""Style suggestion (issue 18): the embedded model's prompts ranked by the likelihood of the
selected bars, from the CLI, over HTTP and over OSC.

The held-out piece is Haydn's op. 74 no. 1, 4th movement (music21's corpus), which falls on
the validation side of the embedded model's split (training.corpus.is_validation): the model
never trained on it. Scoring is deterministic, so the ranking is the same on every run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.daemon_helpers import OscTcpClient, http_request, running_daemon

ROOT = Path(__file__).resolve().parents[1]
HAYDN = ("Classical", "Haydn, Joseph", "Chamber")
P = "/notabridge/"


def _corpus_file(name: str) -> Path:
    from music21 import corpus
    return Path(corpus.__file__).parent / name


def _haydn_excerpt(measures: int = 8) -> dict:
    from notabridge.notation import cut_measures, read_excerpt

    score = read_excerpt(_corpus_file("haydn/opus74no1/movement4.mxl"))
    first = score["measures"][0]["index"]
    excerpt = cut_measures(score, first, first + measures)
    return excerpt


def test_the_held_out_piece_really_is_held_out():
    from training.corpus import is_validation
    assert is_validation("haydn/haydn/opus74no1/movement4", 0.05)


def test_cli_names_the_style_of_a_held_out_quartet():
    out = subprocess.run([sys.executable, "-m", "notabridge.cli.main", "suggest-prompt",
                          str(_corpus_file("haydn/opus74no1/movement4.mxl")), "--measures", "1-8", "--device", "cpu"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    ranked = [line for line in out.stdout.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
    assert len(ranked) == 3, out.stdout                       # the top 3 by default
    assert ranked[0].startswith("1. Classical|Haydn, Joseph|Chamber"), out.stdout
    prompts = json.loads((ROOT / "models" / "default" / "prompts.json").read_text())
    assert f"8 bars scored under {len(prompts)} prompts" in out.stdout     # every prompt the model knows


def test_cli_refuses_measures_outside_the_score(tmp_path):
    out = subprocess.run([sys.executable, "-m", "notabridge.cli.main", "suggest-prompt",
                          str(_corpus_file("haydn/opus74no1/movement4.mxl")), "--measures", "500-508"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 1
    assert "measures 500-508 not found" in out.stderr and "Traceback" not in out.stderr


def test_batched_ranking_equals_scoring_each_prompt_on_its_own():
    """The one batched pass (char decoder rows of every prompt together, cut to their length)
    gives the same log-likelihoods as the plain scorer run once per prompt."""
    from notabridge.engine.bundle import load_bundle
    from notabridge.abc.patching import encode
    from notabridge.engine.runtime import Runner
    from notabridge.engine.scoring import bundle_logits_fn, patch_nats
    from notabridge.abc.prompt import prompt_text
    from notabridge.jobs.suggest import prompt_patches, rank_prompts, selection_abc

    bundle = load_bundle(None, device="cpu")
    prompts = [tuple(p) for p in bundle.prompts]
    text = selection_abc(_haydn_excerpt(4))
    ranked, bars = rank_prompts(Runner(bundle), prompts, text)
    assert bars == 4 and len(ranked) == len(prompts)
    logits_fn = bundle_logits_fn(bundle)
    for suggestion in ranked:
        ids = encode(prompt_text(suggestion.prompt) + text)[:-1]       # no eos patch: bars cut from a piece
        nats, _ = patch_nats(logits_fn(ids), ids[1:])
        expected = float(nats[prompt_patches(suggestion.prompt):].sum())
        assert suggestion.nats == pytest.approx(expected, rel=1e-4, abs=1e-3)
    assert [s.nats for s in ranked] == sorted(s.nats for s in ranked)
    assert np.isfinite([s.bits_per_char for s in ranked]).all()


@pytest.fixture(scope="module")
def default_daemon():
    from notabridge.engine.bundle import DEFAULT_BUNDLE
    with running_daemon(DEFAULT_BUNDLE) as daemon:
        yield daemon


def test_http_suggest_answers_the_top_three_prompts(default_daemon):
    status, body = http_request(default_daemon, "POST", "/suggest", {"excerpt": _haydn_excerpt()}, timeout=120)
    assert status == 200, body
    top = body["suggestions"]["suggestions"]
    assert [s["prompt"] for s in top][0] == list(HAYDN)
    assert len(top) == 3 and top[0]["log_likelihood"] >= top[1]["log_likelihood"] >= top[2]["log_likelihood"]
    known = http_request(default_daemon, "GET", "/capabilities")[1]["prompts"]
    assert all(s["prompt"] in known for s in top)
    assert body["variants"] == []


def test_http_suggest_without_a_selection_says_what_to_send(default_daemon):
    excerpt = _haydn_excerpt()
    excerpt.pop("selection")
    status, body = http_request(default_daemon, "POST", "/suggest", {"excerpt": excerpt}, timeout=120)
    assert status in (400, 409)
    assert "selection" in body["error"]


def test_osc_suggest_job_over_tcp(default_daemon):
    tcp = OscTcpClient(default_daemon.osc_tcp.server_address[1])
    try:
        tcp.send(P + "job/submit", json.dumps({"mode": "suggest", "excerpt": _haydn_excerpt(), "tag": "style"}))
        _, (job_id, tag) = tcp.receive(P + "job/queued")
        assert tag == "style"
        _, args = tcp.receive(P + "job/result", timeout=120)
        result = json.loads(args[1])
        assert result["id"] == job_id
        assert result["suggestions"]["suggestions"][0]["prompt"] == list(HAYDN)
    finally:
        tcp.close()
