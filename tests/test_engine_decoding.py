"""The engine on real bundles: a toy model trained in the fixture to write valid 3/4 bars of
two voices (tests/engine_helpers.py), and the random tiny bundle of tests/conftest.py."""
import threading

import numpy as np
import pytest

from notabridge.abc.bar_check import check_bar, header_context, parse_line
from notabridge.engine import Engine
from notabridge.errors import Cancelled, JobError
from notabridge.engine.sampling import Sampling
from tests.engine_helpers import HEADER, PROMPT

PIECE = PROMPT + HEADER + "[V:1]G2 A2 B2|[V:2]G,6|\n[V:1]d6|[V:2]D,6|\n"


@pytest.fixture(scope="module")
def engine(toy_bundle):
    return Engine(toy_bundle, device="cpu")


def _assert_all_valid(bars, header=HEADER):
    ctx = header_context(header)
    for bar in bars:
        result = check_bar(bar, ctx)
        assert result.valid, (bar, result.reasons)
        assert [s.voice for s in parse_line(bar)[1]] == ["1", "2"]  # every voice present


def test_continue_returns_valid_bars_and_keeps_the_prefix(engine):
    [v] = engine.continue_(PIECE, 5, Sampling(seed=1))
    assert len(v.bars) == 5
    _assert_all_valid(v.bars)
    assert v.abc.startswith(PIECE) and v.abc.endswith("".join(v.bars))
    assert 0.0 <= v.valid_first_try <= 1.0


def test_same_seed_same_music_other_seed_other_music(engine):
    a = engine.continue_(PIECE, 6, Sampling(seed=7), variants=2)
    b = engine.continue_(PIECE, 6, Sampling(seed=7), variants=2)
    c = engine.continue_(PIECE, 6, Sampling(seed=8), variants=2)
    assert [v.bars for v in a] == [v.bars for v in b]
    assert [v.bars for v in a] != [v.bars for v in c]


def test_variants_are_decoded_as_one_batch(engine):
    variants = engine.continue_(PIECE, 6, Sampling(seed=3), variants=4)
    stats = engine.last_run.stats
    assert len(variants) == 4 and len({tuple(v.bars) for v in variants}) > 1
    # one patch-decoder call serves all rows that are in step: far fewer calls than patches
    assert stats.patch_steps < 0.5 * sum(stats.patches_per_row)
    # a patch costs at most 16 char-decoder steps, and one patch-decoder step per batch
    assert stats.char_steps <= 16 * stats.patch_steps


def test_generate_writes_a_header_then_bars(engine):
    [v] = engine.generate(PROMPT.splitlines(True), 4, Sampling(seed=2), key="D")
    assert v.header.startswith(PROMPT)
    assert "K:D\n" in v.header and "M:3/4\n" in v.header
    _assert_all_valid(v.bars[1:], v.header)      # the first bar may be a pickup
    assert len(v.bars) == 4


def test_progress_after_every_bar_and_cancel_within_a_bar(engine):
    seen = []
    engine.continue_(PIECE, 3, Sampling(seed=1), variants=2, progress=lambda *a: seen.append(a[:2]))
    assert sorted(seen) == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    cancel = threading.Event()
    bars_before_cancel = []

    def stop_after_first(variant, done, partial):
        bars_before_cancel.append(done)
        cancel.set()

    with pytest.raises(Cancelled):
        engine.continue_(PIECE, 8, Sampling(seed=1), progress=stop_after_first, cancel=cancel)
    assert bars_before_cancel == [1]


def test_context_slides_instead_of_failing(engine):
    # the toy model's context is 64 patches; 30 bars of about 3 patches each overflow it twice
    [v] = engine.continue_(PIECE, 30, Sampling(seed=5))
    assert engine.last_run.stats.slides >= 1
    assert len(v.bars) == 30
    _assert_all_valid(v.bars)


def test_accompany_forces_the_given_voice(engine):
    given = ["[V:1]B2 c2 d2|\n", "[V:1]g4 d2|\n", "[V:1]A6|\n"]
    variants = engine.accompany(PIECE, given, Sampling(seed=4), variants=2)
    for v in variants:
        _assert_all_valid(v.bars)
        assert [parse_line(b)[1][0].content for b in v.bars] == ["B2 c2 d2", "g4 d2", "A6"]
    # the lower voice given, the upper one written; the final barline of the given bar is kept
    [v] = engine.accompany(PIECE, ["[V:2]G,6|\n", "[V:2]D,6|]\n"], Sampling(seed=3))
    _assert_all_valid(v.bars)
    assert [parse_line(b)[1][1].content for b in v.bars] == ["G,6", "D,6"]
    assert v.bars[1].endswith("|]\n") and v.bars[1].count("|]") == 2


def test_infill_ranks_candidates_by_the_likelihood_of_the_real_bars_after(engine):
    after = ["[V:1]d6|[V:2]D,6|\n", "[V:1]G6|[V:2]G,6|\n"]
    ranked = engine.infill(PIECE, 2, after, Sampling(seed=1), variants=3, candidates=5)
    assert len(ranked) == 3
    lls = [v.log_likelihood for v in ranked]
    assert all(ll is not None and ll < 0 for ll in lls) and lls == sorted(lls, reverse=True)
    for v in ranked:
        _assert_all_valid(v.bars)


def test_cached_suffix_likelihood_equals_full_recompute(engine):
    """The KV-cached teacher-forced score of the bars after a context equals notabridge.engine.scoring's
    no-cache computation over the whole piece."""
    from notabridge.abc.patching import encode, piece_patches
    from notabridge.engine.scoring import patch_nats, bundle_logits_fn
    from notabridge.engine.decoder import Decoder
    from notabridge.abc.patching import patches_to_ids
    from notabridge.engine.sampling import Sampler

    piece = PIECE + "[V:1]B2 A2 G2|[V:2]C,6|\n"
    patches = piece_patches(piece)
    split = len(piece_patches(PIECE, add_eos=False)) - 2  # cut inside the body
    runner = engine.runner
    hidden, cache = runner.patch(patches_to_ids(patches[:split])[None], runner.empty("patch", 1))
    cached, _ = Decoder(runner, Sampler(Sampling())).score_after(cache, hidden[0, -1], patches[split:])
    ids = encode(piece)
    full_nats, _ = patch_nats(bundle_logits_fn(engine.bundle)(ids), ids[1:])
    assert cached == pytest.approx(float(full_nats[split - 1:].sum()), rel=1e-4)


def test_a_constraint_the_model_cannot_meet_ends_in_a_clear_error_after_bounded_tries(engine):
    # a bar of 1/256: shorter than any note the writer lets the model write (L:1/8 divided by 16)
    piece = PIECE.replace("M:3/4", "M:1/256")
    with pytest.raises(JobError, match=r"no valid bar 1 in 4 tries \(last problem: voice 1 lasts"):
        engine.continue_(piece, 2, Sampling(seed=1), max_tries=3)


def test_a_bar_that_cannot_be_written_ends_the_variant_with_the_bars_before_it(engine):
    """Bar 3's given voice lasts 1/512 of a whole note: no voice can be written beside it (the
    writer's shortest note is L/16). Both variants come back with bars 1-2, marked incomplete."""
    given = ["[V:1]B2 c2 d2|\n", "[V:1]g4 d2|\n", "[V:1]G/64|\n", "[V:1]A6|\n"]
    variants = engine.accompany(PIECE, given, Sampling(seed=4), variants=2, max_tries=2)
    assert len(variants) == 2
    for v in variants:
        assert len(v.bars) == 2 and not v.complete
        _assert_all_valid(v.bars)
        assert v.warning.startswith("stopped after 2 of 4 bars: the model wrote no valid bar 3 in 3 tries")


def test_a_variant_that_gives_up_does_not_sink_the_others(engine):
    """Two rows in one decoding run: one cannot write even its first bar (a 1/256 bar), the
    other can. The first gives up with a reason; the second finishes its bars."""
    from notabridge.engine.decoder import Decoder
    from notabridge.abc.patching import split_piece
    from notabridge.engine.sampling import Sampler
    from notabridge.engine.writer import BarWriter

    def writer(piece):
        split = split_piece(piece)
        return BarWriter(prompt=[], header=split.header, prefix_body=split.body, bars=2, max_tries=1,
                         keep_meter_and_key=True)

    impossible, fine = writer(PIECE.replace("M:3/4", "M:1/256")), writer(PIECE)
    stats = Decoder(engine.runner, Sampler(Sampling(seed=1))).run([impossible, fine])
    assert list(stats.failures) == [0] and "no valid bar 1 in 2 tries" in str(stats.failures[0])
    assert len(fine.new_bars) == 2 and fine.stopped is None
    _assert_all_valid(fine.new_bars)

    # through the engine: the variant that gave up is left out and its reason comes back with the others
    impossible, fine = writer(PIECE.replace("M:3/4", "M:1/256")), writer(PIECE)
    variants = engine._run([impossible, fine], Sampling(seed=1), None)
    assert len(variants) == 1 and len(variants[0].bars) == 2
    assert len(variants.gave_up) == 1 and "no valid bar 1 in 2 tries" in variants.gave_up[0]


def test_bars_are_steered_to_fill_the_meter(engine):
    # the toy model only ever saw 3/4; in 5/4 the barline is held back until a voice fills the bar
    piece = PIECE.replace("M:3/4", "M:5/4").replace("B2|", "B2 c4|").replace("G,6|", "G,10|")
    piece = piece.replace("d6|", "d10|").replace("D,6|", "D,10|")
    [v] = engine.continue_(piece, 3, Sampling(seed=1))
    _assert_all_valid(v.bars, piece.split("[V:1]")[0].replace(PROMPT, ""))


def test_a_random_model_never_returns_garbage(tiny_bundle):
    """Untrained weights put mass on every character. The writer's grammar masks make every
    bar that comes back ABC that fills its meter in every voice and that the notation layer
    reads; a bar the random model never ends (endless annotations) is refused with the reason."""
    from notabridge.notation import abc_to_excerpt

    random_engine = Engine(tiny_bundle, device="cpu")
    written = 0
    for seed in range(4):
        try:
            [v] = random_engine.continue_(PIECE, 2, Sampling(seed=seed), max_tries=2)
        except JobError as exc:
            assert "no valid bar 1 in 3 tries (last problem: bar longer than" in str(exc)
            continue
        _assert_all_valid(v.bars)
        assert len(abc_to_excerpt(v.abc)["measures"]) == 2 + len(v.bars)
        written += len(v.bars)
    assert written >= 2   # fixed seeds: some bars are written, so the check above ran


def test_bad_requests_are_refused_with_a_reason(engine):
    with pytest.raises(JobError, match="top_p"):
        engine.continue_(PIECE, 1, Sampling(top_p=2.0))
    with pytest.raises(JobError, match="no key"):
        engine.continue_(PIECE.replace("K:G\n", ""), 1)
    with pytest.raises(JobError, match="not ASCII"):
        engine.continue_(PIECE.replace("Upper", "Überstimme"), 1)
    with pytest.raises(JobError, match="every voice is given"):
        engine.accompany(PIECE, ["[V:1]G6|[V:2]G,6|\n"])
    with pytest.raises(JobError, match="at least one bar"):
        engine.continue_(PIECE, 0)


def test_engine_reports_provider_and_model_info(engine):
    assert engine.provider == "CPUExecutionProvider"
    assert engine.info["name"] == "toy-two-voices"
    assert engine.info["prompts"] == [["Baroque", "Bach, Johann Sebastian", "Choral"]]
    assert np.dtype(engine.bundle.dtype) == np.float32


def test_bits_per_char_measure_how_freely_the_model_chose(engine):
    """Each variant says how surprising the model found the characters it sampled: near-greedy
    sampling picks the likeliest characters (few bits), a high temperature unlikely ones."""
    cool = engine.continue_(PIECE, 4, Sampling(temperature=0.05, top_k=0, top_p=1.0, seed=3), variants=2)
    hot = engine.continue_(PIECE, 4, Sampling(temperature=3.0, top_k=0, top_p=1.0, seed=3), variants=2)
    for v in cool + hot:
        assert v.bits_per_char is not None and v.bits_per_char >= 0
    assert max(v.bits_per_char for v in cool) < min(v.bits_per_char for v in hot)
    [given] = engine.accompany(PIECE, ["[V:1]B2 A2 G2|\n", "[V:1]d6|\n"], Sampling(seed=3))
    assert given.bits_per_char is not None   # only the written voice is sampled, and measured
