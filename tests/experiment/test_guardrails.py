"""The guardrails' proportions: predictions above the stable's p95 bucket, and Agresti-Caffo differences."""

import math

import numpy as np
import pytest
from sentiment_devtools.experiment.guardrails import Counts, Histogram, difference, tail_shares

BOUNDS = (0.004, 0.006, 0.01, math.inf)


def test_both_arms_are_counted_above_the_bucket_holding_the_stable_s_p95():
    shares = tail_shares(Histogram(BOUNDS, [50, 96, 100, 100]), Histogram(BOUNDS, [10, 80, 99, 100]))

    assert float(shares.bound) == 0.006
    assert (int(shares.stable.events), int(shares.stable.trials)) == (4, 100)
    assert (int(shares.canary.events), int(shares.canary.trials)) == (20, 100)


def test_a_p95_on_a_bucket_bound_is_that_bucket_and_one_beyond_every_bound_is_infinite():
    on_bound = tail_shares(Histogram(BOUNDS, [95, 100, 100, 100]), Histogram(BOUNDS, [90, 100, 100, 100]))
    beyond = tail_shares(Histogram(BOUNDS, [0, 0, 90, 100]), Histogram(BOUNDS, [0, 0, 0, 100]))

    assert (float(on_bound.bound), int(on_bound.canary.events)) == (0.004, 10)
    assert (float(beyond.bound), int(beyond.stable.events), int(beyond.canary.events)) == (math.inf, 0, 0)


def test_arrays_of_histograms_are_read_one_by_one():
    stable = Histogram(BOUNDS, [[50, 96, 100, 100], [95, 100, 100, 100]])
    canary = Histogram(BOUNDS, [[10, 80, 99, 100], [90, 100, 100, 100]])

    shares = tail_shares(stable, canary)

    assert np.array_equal(shares.bound, [0.006, 0.004])
    assert np.array_equal(shares.canary.events, [20, 10])


def test_histograms_with_different_buckets_are_refused():
    with pytest.raises(ValueError, match="different buckets"):
        tail_shares(Histogram(BOUNDS, [1, 2, 3, 3]), Histogram((0.005, math.inf), [1, 3]))


def test_the_agresti_caffo_difference_gives_an_arm_without_failures_a_variance():
    estimate, variance = difference(Counts(0, 100), Counts(3, 98))

    assert float(estimate) == pytest.approx(4 / 100 - 1 / 102)
    assert float(variance) == pytest.approx((1 / 102) * (101 / 102) / 102 + 0.04 * 0.96 / 100)
