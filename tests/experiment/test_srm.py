"""The sample-ratio check against independent computations of its two tests."""

import math

import numpy as np
import pytest
from scipy.stats import betabinom, binom, chisquare
from sentiment_devtools.experiment import srm


def test_the_sequential_p_value_is_the_inverse_dirichlet_multinomial_bayes_factor():
    # With two arms the Dirichlet-multinomial is a beta-binomial; the multinomial coefficients cancel
    k = srm.CONCENTRATION
    factor = betabinom.pmf(170, 2000, 0.1 * k, 0.9 * k) / binom.pmf(170, 2000, 0.1)

    assert float(srm.sequential_p_value(1830, 170, 0.1)) == pytest.approx(1 / factor, rel=1e-9)


def test_the_concentration_tunes_the_test_for_2000_visitors():
    tuned = 2000 / (2 * math.log(1000) + math.log(1 + 2 * math.log(1000)))

    assert pytest.approx(tuned) == srm.CONCENTRATION


def test_the_chi_square_p_value_is_pearson_s():
    expected = chisquare([1830, 170], f_exp=[1800, 200]).pvalue

    assert float(srm.chi_square_p_value(1830, 170, 0.1)) == pytest.approx(expected)


def test_counts_on_the_split_are_no_mismatch_and_a_canary_missing_30_percent_is():
    assert float(srm.sequential_p_value(3600, 400, 0.1)) == 1.0
    assert not srm.mismatch(srm.sequential_p_value(3600, 400, 0.1))
    # 4,000 assigned, the canary at 7% of 97%: 3,711 and 289
    assert srm.mismatch(srm.sequential_p_value(3711, 289, 0.1))
    assert float(srm.chi_square_p_value(3711, 289, 0.1)) < 0.001


def test_no_assignment_is_no_evidence():
    assert float(srm.sequential_p_value(0, 0, 0.1)) == 1.0
    assert float(srm.chi_square_p_value(0, 0, 0.1)) == 1.0
    assert np.shape(srm.sequential_p_value(np.zeros(3), np.zeros(3), 0.1)) == (3,)
