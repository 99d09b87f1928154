"""The margin objective of `notabridge finetune` (training.contrast): it compares a piece's bars under
its own prompt and under competing prompts exactly as suggest-prompt ranks them, and training on it
makes the new prompt win over a competing one."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# two real tunes in training form (interleaved ABC without prompt lines): a G major 3/4 tune and
# a D minor 2/4 tune, each of 6 bars, so the whole piece is what suggest-prompt scores
WALTZ = ("%%score 1\nL:1/8\nM:3/4\nK:G\nV:1 treble\n" + "".join(f"[V:1]{bar}|\n" for bar in
         ["G2 B2 d2", "c2 A2 F2", "G2 B2 d2", "e2 c2 A2", "B2 G2 A2", "G6"]))
MARCH = ("%%score 1\nL:1/8\nM:2/4\nK:Dm\nV:1 treble\n" + "".join(f"[V:1]{bar}|\n" for bar in
         ["D2 F2", "A2 d2", "^c2 A2", "d4", "A2 F2", "D4"]))


def _pieces():
    from tests.model_helpers import TINY_PROMPTS
    from training.data import Piece

    bach, chopin = TINY_PROMPTS
    return [Piece("waltz", chopin, WALTZ, contrast=[bach]), Piece("march", bach, MARCH, contrast=[chopin])]


def test_margin_terms_are_suggest_prompts_own_minus_competing_score(tiny_checkpoint_session, tiny_bundle, one_thread):
    """Per character, own - competing from the torch objective equals suggest-prompt's ranking scores
    from the exported bundle for the same bars (the objective trains on the measure users see)."""
    from notabridge.engine.bundle import load_bundle
    from notabridge.engine.runtime import Runner
    from notabridge.jobs.suggest import rank_prompts
    from notabridge.onnx_export.checkpoint import load_model
    from training.contrast import ContrastSampler, margin_terms
    from training.objective import NotaGenObjective

    model = load_model(tiny_checkpoint_session)
    objective = NotaGenObjective(model).eval()
    pieces = _pieces()
    sampler = ContrastSampler(pieces, model.sizes.patch_length)
    windows, first, pairs = sampler.sample(np.random.default_rng(0), whole=True)
    with torch.no_grad():
        differences = margin_terms(objective, windows, first, pairs, torch.device("cpu")).numpy()
    runner = Runner(load_bundle(tiny_bundle, device="cpu"))
    for piece, difference in zip(pieces, differences):
        ranked, bars = rank_prompts(runner, [piece.prompt, piece.contrast[0]], piece.abc)
        assert bars == 6
        nats = {s.prompt: s.nats for s in ranked}
        expected = (nats[piece.prompt] - nats[piece.contrast[0]]) / ranked[0].chars
        assert difference == pytest.approx(expected, rel=1e-3, abs=1e-5)


@pytest.fixture
def one_thread():
    """One torch thread: the steps below are tiny and two threads on a busy 2-core machine are 30x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _fine_tune(weight: float, base_steps: int = 30, steps: int = 15) -> tuple[float, float]:
    """A base model that learnt the waltz under the Bach prompt (and the march under Chopin's) is
    fine-tuned on the waltz under Chopin's prompt, with the margin loss against Bach's at `weight`.
    own - competing per character on the waltz (Chopin's minus Bach's), before and after."""
    from tests.model_helpers import TINY_PROMPTS, random_model
    from training.contrast import ContrastSampler, hinge, margin_terms
    from training.data import Piece, collate, piece_text
    from training.objective import NotaGenObjective
    from training.windows import encode_piece, training_window

    bach, chopin = TINY_PROMPTS
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = random_model(seed=3).train()
    objective = NotaGenObjective(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def train(pieces, steps, sampler=None):
        windows = [training_window(encode_piece(piece_text(p, "finetune")), model.sizes.patch_length, rng) for p in pieces]
        patches, lengths = map(torch.from_numpy, collate(windows))
        for _ in range(steps):
            nats, chars = objective(patches, lengths)
            loss = nats / chars
            if sampler is not None:
                loss = loss + weight * hinge(margin_terms(objective, *sampler.sample(rng), cpu))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def difference(sampler) -> float:
        objective.eval()
        with torch.no_grad():
            value = float(margin_terms(objective, *sampler.sample(rng, whole=True), cpu)[0])
        objective.train()
        return value

    train([Piece("waltz", bach, WALTZ), Piece("march", chopin, MARCH)], base_steps)
    waltz = ContrastSampler([Piece("waltz", chopin, WALTZ, contrast=[bach])], model.sizes.patch_length)
    before = difference(waltz)
    train(waltz.pieces, steps, waltz if weight else None)
    return before, difference(waltz)


def test_the_margin_loss_makes_the_new_prompt_win_where_fine_tuning_alone_barely_does(one_thread):
    """The user's case: the base model finds the music likeliest under a competing prompt. Fine-tuning
    under the new prompt alone makes the music likelier under both; with the margin loss the new
    prompt wins by the margin (what suggest-prompt needs to pick it)."""
    from training.contrast import MARGIN

    before, with_margin = _fine_tune(1.0)
    _, without = _fine_tune(0.0)
    assert before > MARGIN                       # Bach's prompt wins at the start
    assert with_margin < -MARGIN
    assert without > -MARGIN
