"""The normal-mixture SPRT and its confidence sequence: the formula, its duality, and its validity at every look."""

import numpy as np
import pytest
from sentiment_devtools.experiment import planning, sequential


def test_the_mixture_likelihood_ratio_by_hand():
    # Lambda = sqrt(V / (V + tau^2)) exp(tau^2 theta^2 / (2 V (V + tau^2))) = sqrt(1/2) e^1 with V = tau^2 = 1e-4
    p = sequential.p_value(0.02, 1e-4, 1e-4)

    assert float(p) == pytest.approx(1 / (np.sqrt(0.5) * np.e))


def test_the_confidence_sequence_excludes_a_value_exactly_when_its_p_value_is_below_alpha():
    estimates = np.linspace(-0.05, 0.05, 201)
    variance, tau2, alpha = 1e-4, 5e-5, 0.05

    excluded = np.abs(estimates) > sequential.half_width(variance, tau2, alpha)
    rejected = sequential.p_value(estimates, variance, tau2) < alpha

    assert np.array_equal(excluded, rejected)
    assert excluded.any()
    assert not excluded.all()


def test_no_information_is_no_evidence():
    assert float(sequential.p_value(0.3, np.inf, 1e-4)) == 1.0
    assert float(sequential.p_value(0.3, 0.0, 1e-4)) == 1.0
    assert float(sequential.half_width(np.inf, 1e-4, 0.05)) == np.inf


def test_the_confidence_sequence_covers_the_truth_at_every_one_of_500_looks():
    # Given 4,000 running means of standard normal observations, looked at after each of 500 observations
    rng = np.random.default_rng(2017)
    n = np.arange(1, 501)
    means = np.cumsum(rng.standard_normal((4000, 500)), axis=1) / n
    alpha = 0.05
    tau2 = planning.tuned_ratio(alpha) / 250  # tuned for the 250th look

    # When every look is read, then the truth (0) leaves the sequence in at most alpha of the paths
    missed = np.any(np.abs(means) > sequential.half_width(1 / n, tau2, alpha), axis=1)

    assert missed.mean() <= alpha
    # and a fixed 95% interval, read at every look, misses far more often
    assert np.any(np.abs(means) > 1.96 / np.sqrt(n), axis=1).mean() > 0.3
