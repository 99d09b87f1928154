"""Speculative character decoding (bridge/speculative.py) samples exactly the model's distribution.

The toy model of tests/engine_helpers.py (trained in the fixture) gets a draft table built
from toy pieces. Thousands of patches are sampled after the same prefix, with and without
speculation, under bans and a forced character, at fixed seeds (so the outcome is fixed).
The two distributions of patches must agree as two samples of one distribution do (chi-square
test); a deliberately wrong speculation that keeps every draft must be told apart by the same
test, so the test has the power to fail."""
from __future__ import annotations

import math
import random
import shutil
from collections import Counter

import numpy as np
import pytest

from notabridge.engine.decoder import DONE, Decoder
from notabridge.engine.draft import DraftTable, add_to_bundle
from notabridge.engine import Engine
from notabridge.abc.patching import piece_patches
from notabridge.engine.sampling import Sampler, Sampling
from notabridge.engine.speculative import Speculator
from tests.engine_helpers import HEADER, PROMPT, toy_piece
from training.ngram import scored_stream

PREFIX = PROMPT + HEADER + "[V:1]G2 A2 B2|[V:2]G,6|\n[V:1]d6|[V:2]D,6|\n"
SETTINGS = dict(temperature=1.3, top_k=0, top_p=1.0, order="notagen")
ROWS, RUNS = 100, 12


@pytest.fixture(scope="module")
def spec_bundle(toy_bundle, tmp_path_factory):
    """The toy bundle with a 5-gram draft table of 200 toy pieces."""
    out = tmp_path_factory.mktemp("spec") / "bundle"
    shutil.copytree(toy_bundle, out)
    rng = random.Random(5)
    add_to_bundle(out, DraftTable.build([scored_stream(toy_piece(rng, 8)) for _ in range(200)]), "toy pieces")
    return out


class OnePatch:
    """After PREFIX, one patch under constraints: 'B' banned everywhere, a space forced as the
    7th character; the patch written is kept."""

    def __init__(self):
        self.patch = None
        self._context = piece_patches(PREFIX, add_eos=False)

    def context(self, limit, at_most=None):
        return self._context

    def forced_patch(self):
        return None

    def constraint(self, text):
        return (" ", "") if len(text) == 6 else (None, "B")

    def on_patch(self, text, eos):
        self.patch = text
        return DONE


class KeepsEveryDraft(Speculator):
    """Wrong on purpose: keeps drafts without the acceptance test (samples the draft's distribution)."""

    def _verify(self, row, logits, chars, qs, constraints, rng):
        # q(d) = 0: every draft the model allows passes the acceptance test
        return super()._verify(row, logits, chars, [None if q is None else np.zeros(128) for q in qs], constraints, rng)


def sample_patches(engine, speculator_class, seed0: int) -> Counter:
    out = Counter()
    for run in range(RUNS):
        writers = [OnePatch() for _ in range(ROWS)]
        speculator = speculator_class(engine.bundle.draft) if speculator_class else None
        Decoder(engine.runner, Sampler(Sampling(seed=seed0 + run, **SETTINGS)), speculator).run(writers)
        out.update(w.patch for w in writers)
    return out


def chi_square(a: Counter, b: Counter, min_expected: float = 5.0) -> tuple[float, int]:
    """Two-sample chi-square statistic over patches (rare ones pooled) and its degrees of freedom."""
    na, nb = sum(a.values()), sum(b.values())
    common = [k for k in set(a) | set(b) if (a[k] + b[k]) * min(na, nb) / (na + nb) >= min_expected]
    cells = [(a[k], b[k]) for k in common]
    cells.append((na - sum(x for x, _ in cells), nb - sum(y for _, y in cells)))
    stat = 0.0
    for x, y in cells:
        total = x + y
        if total:
            ex, ey = total * na / (na + nb), total * nb / (na + nb)
            stat += (x - ex) ** 2 / ex + (y - ey) ** 2 / ey
    return stat, len(cells) - 1


def critical(df: int, z: float = 3.09) -> float:
    """The chi-square 99.9% point (Wilson-Hilferty); z = 3.72: the 99.99% point."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def features(patches: Counter) -> list[Counter]:
    """What is compared: the character at each position of the patch ('' past its end), and
    each pair of neighbouring characters (whole patches are nearly all distinct)."""
    out = [Counter() for _ in range(2 * 16 - 1)]
    for patch, n in patches.items():
        padded = list(patch) + [""] * (16 - len(patch))
        for j in range(16):
            out[j][padded[j]] += n
            if j < 15:
                out[16 + j][padded[j] + "|" + padded[j + 1]] += n
    return out


def worst_ratio(a: Counter, b: Counter) -> float:
    """Largest chi-square statistic over its 99.99% point, over the 31 compared features (31
    tests at 99.9% would cry wolf for one sample in 30: seen at 1.03x with an exact speculator)."""
    ratios = [stat / critical(df, 3.72) for stat, df in (chi_square(x, y) for x, y in zip(features(a), features(b)))
              if df]
    return max(ratios)


def test_speculation_samples_the_same_distribution(spec_bundle):
    engine = Engine(spec_bundle, device="cpu")
    plain = sample_patches(engine, None, 0)
    speculative = sample_patches(engine, Speculator, 1000)
    assert all((len(p) < 7 or p[6] == " ") and "B" not in p for p in plain | speculative)   # constraints held
    assert len(plain) > 500                                 # a distribution, not a few patches
    assert worst_ratio(plain, speculative) < 1.0
    # the same test tells a wrong speculation (drafts kept unchecked) from the model
    assert worst_ratio(plain, sample_patches(engine, KeepsEveryDraft, 1000)) > 1.0


def test_speculation_needs_fewer_char_decoder_calls_and_keeps_seeds(spec_bundle):
    engine = Engine(spec_bundle, device="cpu", speculative=True)
    plain = Engine(spec_bundle, device="cpu", speculative=False)
    [a] = engine.continue_(PREFIX, 4, Sampling(seed=3))
    spec_stats, calls = engine.last_run.speculative, engine.last_run.stats.char_steps
    [b] = engine.continue_(PREFIX, 4, Sampling(seed=3))
    assert a.bars == b.bars                               # a seed still fixes the music
    plain.continue_(PREFIX, 4, Sampling(seed=3))
    assert plain.last_run.speculative is None
    assert calls < 0.6 * plain.last_run.stats.char_steps
    assert spec_stats.chars_per_call > 1.5 and 0 < spec_stats.acceptance <= 1


def test_the_draft_table_travels_in_the_bundle(spec_bundle, tmp_path):
    from notabridge.engine.bundle import BundleError, load_bundle
    from tests.model_helpers import run_notabridge

    table = load_bundle(spec_bundle, "cpu").draft
    after_voice_2 = table.probs("|[V:2]")        # the toy's lower voice starts G, D, C or B
    assert set(np.nonzero(after_voice_2)[0]) == {ord(c) for c in "GDCB"}
    assert table.probs("never seen before").sum() == pytest.approx(1.0)   # falls back to shorter contexts
    shown = run_notabridge("inspect", spec_bundle)
    assert "draft table   5-gram" in shown.stdout, shown.stdout
    broken = tmp_path / "broken"
    shutil.copytree(spec_bundle, broken)
    (broken / "draft_ngram.npz").write_bytes(b"not a table")
    with pytest.raises(BundleError, match="draft_ngram.npz does not match the sha256"):
        load_bundle(broken, "cpu")


def test_every_mode_writes_valid_bars_with_speculation(spec_bundle):
    """Batches whose rows accept different numbers of drafts, forced given voices, infill ranking."""
    from notabridge.abc.bar_check import check_bar, header_context, parse_line

    engine = Engine(spec_bundle, device="cpu", speculative=True)
    ctx = header_context(HEADER)
    variants = engine.continue_(PREFIX, 5, Sampling(seed=2), variants=4)
    assert len(variants) == 4 and len({tuple(v.bars) for v in variants}) > 1
    assert engine.last_run.speculative.calls < 16 * engine.last_run.stats.patch_steps
    given = ["[V:1]B2 c2 d2|\n", "[V:1]g4 d2|\n", "[V:1]A6|\n"]
    accompanied = engine.accompany(PREFIX, given, Sampling(seed=4), variants=2)
    ranked = engine.infill(PREFIX, 2, ["[V:1]d6|[V:2]D,6|\n"], Sampling(seed=1), variants=2, candidates=3)
    generated = engine.generate(PROMPT.splitlines(keepends=True), 2, Sampling(seed=6), variants=2)
    assert all(v.header.startswith(PROMPT + "%%score") for v in generated)   # drafts probed the header's grammar too
    for v in variants + accompanied + ranked + generated:
        own = header_context(v.header.splitlines(keepends=True)) if v in generated else ctx   # its own meter
        ends = (0, len(v.bars) - 1)   # a new piece may open with a pickup and close with a short bar
        assert all(check_bar(bar, own, pickup_ok=v in generated and i in ends).valid
                   for i, bar in enumerate(v.bars)), (v.header, v.bars)
    for v in accompanied:
        assert [parse_line(b)[1][0].content for b in v.bars] == ["B2 c2 d2", "g4 d2", "A6"]
    assert all(v.log_likelihood is not None for v in ranked)


# The toy model learned 3/4; in 2/4 the bar writer's masks and its fallback decide many characters
# (a voice full after two beats may only end: the model's plausible next notes are all banned).
PREFIX_2_4 = PROMPT + HEADER.replace("M:3/4", "M:2/4") + "[V:1]G2 A2|[V:2]G,4|\n[V:1]d4|[V:2]D,4|\n"
NOTAGEN_SAMPLING = dict(temperature=1.2, top_k=9, top_p=0.9)


class IgnoresTheFallbackLevels(Speculator):
    """Wrong on purpose (the speculator before issue 16's fix): the writer's ban levels read as
    plain bans, so where the model's plausible characters are all banned the likeliest allowed
    character is taken from every allowed one, not from those the writer falls back to."""

    def _verify(self, row, logits, chars, qs, constraints, rng):
        return super()._verify(row, logits, chars, qs, [(f, ban, ban) for f, ban, _ in constraints], rng)


def continued_bars(bundle, speculator_class, seed0: int, runs: int) -> tuple[Counter, int]:
    """The bar written after PREFIX_2_4 by `runs` x 100 variants (the real bar writer, its masks,
    fallback, bar check and retries); and the char-decoder calls it took."""
    import notabridge.engine.generation as generation

    engine = Engine(bundle, device="cpu", speculative=speculator_class is not None)
    bars, calls = Counter(), 0
    plain_class = generation.Speculator
    generation.Speculator = speculator_class or plain_class     # which speculator the engine builds
    try:
        for run in range(runs):
            variants = engine.continue_(PREFIX_2_4, 1, Sampling(seed=seed0 + run, **NOTAGEN_SAMPLING), variants=100)
            bars.update(v.bars[0] for v in variants)
            calls += engine.last_run.stats.char_steps
    finally:
        generation.Speculator = plain_class
    return bars, calls


def bar_features(bars: Counter) -> list[Counter]:
    """Per bar, three categorical features: the whole bar, its length in characters, and how many
    `[` it holds (2 in a plain two-voice bar; inline fields add more)."""
    out = [Counter(), Counter(), Counter()]
    for bar, n in bars.items():
        for feature, value in zip(out, (bar, len(bar), bar.count("["))):
            feature[value] += n
    return out


def bar_ratio(a: Counter, b: Counter) -> float:
    """Largest chi-square statistic over its 99.99% point, over the three bar features."""
    return max(stat / critical(df, 3.72) for stat, df in (chi_square(x, y) for x, y in
                                                           zip(bar_features(a), bar_features(b))) if df)


def test_speculation_samples_the_same_bars_as_plain_decoding_under_the_writers_masks(spec_bundle):
    """600 bars each way, fixed seeds: the two samples agree as two samples of one distribution
    do, while the old speculator, blind to the writer's fallback levels, is told apart by the
    same test on 100 bars (it writes inline fields where plain decoding ends the voice)."""
    plain, plain_calls = continued_bars(spec_bundle, None, 0, 6)
    speculative, calls = continued_bars(spec_bundle, Speculator, 1000, 6)
    assert len(plain) > 30                                  # a distribution, not a few bars
    assert bar_ratio(plain, speculative) < 1.0
    assert calls < 0.7 * plain_calls                        # and it took fewer char-decoder calls
    wrong, _ = continued_bars(spec_bundle, IgnoresTheFallbackLevels, 1000, 1)
    assert bar_ratio(plain, wrong) > 2.0


def test_speculation_is_on_by_default_and_serve_can_turn_it_off(spec_bundle):
    from notabridge.cli.load_engine import load_engine
    from notabridge.cli.main import build_parser

    assert Engine(spec_bundle, device="cpu").speculative              # the bundle ships a draft table
    for flags, expected in (([], True), (["--no-speculative"], False), (["--speculative"], True)):
        args = build_parser().parse_args(["serve", "--model", str(spec_bundle), *flags])
        engine = load_engine(args.model, "cpu", speculative=args.speculative)
        engine.continue_(PREFIX, 1, Sampling(seed=1))
        assert (engine.last_run.speculative is not None) == expected, flags
