"""The ratio metric per visitor and its delta-method variance, against the per-visitor formula."""

import numpy as np
import pytest
from sentiment_devtools.experiment.visitors import RatioSums, VisitorSums


def sums(reviews: np.ndarray, corrections: np.ndarray) -> RatioSums:
    return RatioSums(
        visitors=len(reviews),
        numerator=corrections.sum(),
        denominator=reviews.sum(),
        numerator_squares=(corrections**2).sum(),
        denominator_squares=(reviews**2).sum(),
        products=(corrections * reviews).sum(),
    )


def test_the_variance_from_six_sums_is_the_per_visitor_delta_method():
    rng = np.random.default_rng(3)
    reviews = rng.integers(1, 12, size=400)
    corrections = rng.binomial(reviews, rng.beta(0.4, 3.6, size=400))
    rate = corrections.sum() / reviews.sum()
    # Deng et al. (2018): n / (n - 1) * sum (C - R M)^2 / (sum M)^2
    by_visitor = 400 / 399 * ((corrections - rate * reviews) ** 2).sum() / reviews.sum() ** 2

    ratio = sums(reviews, corrections)

    assert float(ratio.ratio()) == pytest.approx(rate)
    assert float(ratio.variance()) == pytest.approx(by_visitor, rel=1e-12)
    assert float(ratio.design_effect()) > 1.3  # clustered: more variance than the binomial's


def test_one_review_per_visitor_is_the_binomial_variance():
    corrections = np.array([1] * 30 + [0] * 270)

    ratio = sums(np.ones(300, dtype=int), corrections)

    assert float(ratio.variance()) == pytest.approx(0.1 * 0.9 / 299)
    assert float(ratio.design_effect()) == pytest.approx(300 / 299)


def test_visitors_without_a_review_change_nothing_but_n():
    reviews, corrections = np.array([3, 1, 4, 2]), np.array([1, 0, 2, 0])
    with_idle = sums(np.concatenate([reviews, [0, 0, 0, 0]]), np.concatenate([corrections, [0, 0, 0, 0]]))

    assert float(with_idle.variance()) == pytest.approx(
        float(sums(reviews, corrections).variance()) * (8 / 7) / (4 / 3)
    )


def test_fewer_than_two_visitors_have_no_variance():
    assert float(RatioSums(1, 1, 3, 1, 9, 3).variance()) == np.inf
    assert np.isnan(RatioSums(0, 0, 0, 0, 0, 0).ratio())


def test_an_arm_s_sums_give_its_correction_rate_feedback_rate_and_corrected_share():
    arm = VisitorSums(
        visitors=2, reviews=5, feedback=3, corrections=2, reviews_squared=13, feedback_squared=5,
        corrections_squared=4, reviews_feedback=8, reviews_corrections=6, feedback_corrections=4,
    )  # fmt: skip  # two visitors: (M, F, C) = (2, 1, 0) and (3, 2, 2)

    assert float(arm.correction_rate().ratio()) == pytest.approx(2 / 5)
    assert float(arm.feedback_rate().ratio()) == pytest.approx(3 / 5)
    assert float(arm.corrected_share().ratio()) == pytest.approx(2 / 3)
    assert float(arm.corrected_share().variance()) == pytest.approx(
        2 * ((0 - 2 / 3 * 1) ** 2 + (2 - 2 / 3 * 2) ** 2) / 3**2
    )
