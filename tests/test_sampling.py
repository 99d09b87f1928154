"""Sampling: NotaGen's order and the usual order, seeds, extremes, NaN."""
import numpy as np
import pytest

from notabridge.engine.sampling import Sampler, Sampling, distribution


def _logits(probs):
    return np.log(np.asarray([probs], dtype=np.float64))


def test_notagen_order_truncates_then_applies_temperature():
    logits = _logits([0.5, 0.3, 0.15, 0.05])
    p = distribution(logits, Sampling(temperature=2.0, top_k=2, top_p=1.0))[0]
    # top-2 renormalised is (0.625, 0.375); temperature 2 takes square roots, renormalised
    a, b = np.sqrt(0.625), np.sqrt(0.375)
    assert p == pytest.approx([a / (a + b), b / (a + b), 0, 0])


def test_standard_order_applies_temperature_before_top_p():
    logits = _logits([0.6, 0.3, 0.1])
    notagen = distribution(logits, Sampling(temperature=3.0, top_k=0, top_p=0.8))[0]
    standard = distribution(logits, Sampling(temperature=3.0, top_k=0, top_p=0.8, order="standard"))[0]
    assert np.count_nonzero(notagen) == 2        # 0.6 + 0.3 reach 0.8
    assert np.count_nonzero(standard) == 3       # flattened first, three are needed


def test_top_p_keeps_the_most_likely_even_when_tiny():
    p = distribution(_logits([0.4, 0.35, 0.25]), Sampling(temperature=1.0, top_k=0, top_p=0.0))[0]
    assert p == pytest.approx([1, 0, 0])


def test_frequencies_follow_the_distribution():
    logits = np.repeat(_logits([0.5, 0.3, 0.15, 0.05]), 20000, axis=0)
    ids = Sampler(Sampling(temperature=1.0, top_k=2, top_p=1.0, seed=3)).sample(logits)
    freq = np.bincount(ids, minlength=4) / len(ids)
    assert freq == pytest.approx([0.625, 0.375, 0, 0], abs=0.015)


def test_same_seed_same_draws_and_other_seed_differs():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 128))
    s = Sampling(temperature=1.2, top_k=20, top_p=0.95, seed=42)
    a = [Sampler(s).sample(logits) for _ in range(2)]
    b = Sampler(Sampling(temperature=1.2, top_k=20, top_p=0.95, seed=43)).sample(logits)
    assert np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], b)


@pytest.mark.parametrize("settings", [Sampling(temperature=0.0), Sampling(temperature=1e-6),
                                      Sampling(temperature=5.0, top_k=1)])
def test_extremes_are_greedy(settings):
    logits = np.random.default_rng(1).normal(size=(30, 128))
    ids = Sampler(settings).sample(logits)
    assert np.array_equal(ids, logits.argmax(axis=1))


def test_no_limits_samples_the_whole_vocabulary():
    logits = np.zeros((4000, 8))
    ids = Sampler(Sampling(temperature=1.0, top_k=0, top_p=1.0, seed=0)).sample(logits)
    assert set(ids.tolist()) == set(range(8))


def test_nan_and_infinite_logits_are_never_drawn():
    logits = np.zeros((2000, 6))
    logits[:, 0] = np.nan
    logits[:, 1] = np.inf
    logits[:, 2] = -np.inf
    ids = Sampler(Sampling(temperature=1.0, top_k=0, top_p=1.0, seed=0)).sample(logits)
    assert set(ids.tolist()) <= {3, 4, 5}


def test_all_nan_row_still_returns_a_valid_id():
    logits = np.full((3, 128), np.nan)
    ids = Sampler(Sampling(seed=0)).sample(logits)
    assert ids.shape == (3,) and ((ids >= 0) & (ids < 128)).all()


def test_banned_characters_are_not_drawn():
    logits = np.zeros((500, 4))
    banned = np.zeros((500, 4), dtype=bool)
    banned[:, :2] = True
    ids = Sampler(Sampling(temperature=1.0, top_k=0, top_p=1.0, seed=0)).sample(logits, banned)
    assert set(ids.tolist()) == {2, 3}


@pytest.mark.parametrize("bad", [Sampling(temperature=-1), Sampling(top_k=-2), Sampling(top_p=1.5),
                                 Sampling(order="random")])
def test_bad_settings_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="must"):
        Sampler(bad)


def test_temperature_override_draws_as_that_temperature():
    logits = np.random.default_rng(2).normal(size=(200, 128))
    cool = Sampler(Sampling(temperature=0.3, seed=9)).sample(logits)
    overridden = Sampler(Sampling(temperature=1.2, seed=9)).sample(logits, temperature=0.3)
    assert np.array_equal(cool, overridden)


def test_masks_apply_after_truncation_so_a_banned_favourite_gives_the_likeliest_allowed():
    """The model is sure of id 0 (banned). Without truncation first, the renormalised tail
    (ids 1..127, all equally unlikely) would be drawn uniformly; with it, the likeliest allowed
    character comes (id 5), or the likeliest one the fallback allows (id 6)."""
    logits = np.full((300, 128), -10.0)
    logits[:, 0], logits[:, 5], logits[:, 6] = 10.0, -2.0, -3.0
    banned = np.zeros((300, 128), dtype=bool)
    banned[:, 0] = True
    sampler = Sampler(Sampling(seed=0))
    assert set(sampler.sample(logits, banned).tolist()) == {5}
    not_fallback = banned.copy()
    not_fallback[:, 5] = True
    assert set(sampler.sample(logits, banned, fallback_banned=not_fallback).tolist()) == {6}
    # when an allowed character is plausible, the draw stays among the plausible ones
    logits[:, 7] = 9.5
    assert set(sampler.sample(logits, banned).tolist()) == {7}
