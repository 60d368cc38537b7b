"""The rules the report used before issue 16, against textbook answers: the "before" figures rest on them."""

import math

import pytest
from sentiment_devtools.experiment import old_rules


def test_two_proportion_z_test_of_100_in_1000_against_130_in_1000():
    # pooled p = 0.115, standard error = sqrt(0.115 * 0.885 * 2/1000) = 0.014267, z = 2.1027
    difference, p = old_rules.z_test(100, 1000, 130, 1000)

    assert float(difference) == pytest.approx(0.03)
    assert float(p) == pytest.approx(0.0355, abs=1e-4)


def test_fleiss_sample_sizes_199_for_10_against_20_percent_and_14751_for_a_10_percent_lift():
    assert old_rules.sample_size_per_arm(0.10, 0.20) == 199
    assert old_rules.sample_size_per_arm(0.10, 0.11) == 14751


def test_histogram_quantile_interpolates_inside_the_bucket_as_prometheus_does():
    bounds = (0.004, 0.006, math.inf)

    assert float(old_rules.histogram_quantile(0.95, bounds, [50, 100, 100])) == pytest.approx(0.0058)
    assert float(old_rules.histogram_quantile(0.95, bounds, [0, 50, 100])) == pytest.approx(0.006)  # in +Inf
    assert float(old_rules.histogram_quantile(0.5, bounds, [100, 100, 100])) == pytest.approx(0.002)


def test_the_old_promote_rule_needed_an_observed_lift_of_1_10():
    assert old_rules.promoted(1000, 10000, 1120, 10000)
    assert not old_rules.promoted(10000, 100000, 10900, 100000)  # 1.09x: significant (p < 1e-10), not promoted
