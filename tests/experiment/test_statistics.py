"""The experiment's statistics against textbook answers."""

import pytest
from experiment.statistics import sample_size_per_arm, two_proportion_z_test, wilson_interval


def test_wilson_interval_of_10_in_100_is_the_textbook_one():
    # Newcombe (1998), Statistics in Medicine 17, table I: 0.0552 to 0.1744
    interval = wilson_interval(10, 100)

    assert interval.low == pytest.approx(0.0552, abs=1e-4)
    assert interval.high == pytest.approx(0.1744, abs=1e-4)


def test_wilson_interval_stays_inside_zero_and_one_where_the_normal_one_would_not():
    none = wilson_interval(0, 20)
    all_ = wilson_interval(20, 20)

    assert none.low == 0.0
    assert none.high == pytest.approx(0.1611, abs=1e-4)
    assert all_.high == 1.0
    assert wilson_interval(0, 0) == wilson_interval(0, 0).__class__(0.0, 1.0)


def test_two_proportion_z_test_of_100_in_1000_against_130_in_1000():
    # pooled p = 0.115, standard error = sqrt(0.115 * 0.885 * 2/1000) = 0.014267
    test = two_proportion_z_test(100, 1000, 130, 1000)

    assert test.difference == pytest.approx(0.03)
    assert test.z == pytest.approx(2.1027, abs=1e-4)
    assert test.p_value == pytest.approx(0.0355, abs=1e-4)


def test_equal_rates_are_no_difference_at_all():
    test = two_proportion_z_test(0, 50, 0, 70)

    assert (test.z, test.p_value) == (0.0, 1.0)


def test_sample_size_to_tell_10_from_20_percent_is_the_textbook_199_per_arm():
    # Fleiss' formula without continuity correction, alpha 0.05 two-sided, power 0.8
    assert sample_size_per_arm(0.10, 0.20) == 199


def test_a_10_percent_lift_on_a_10_percent_rate_needs_about_15_thousand_reviews_per_arm():
    # (1.95996 * sqrt(2 * 0.105 * 0.895) + 0.84162 * sqrt(0.09 + 0.0979))^2 / 0.01^2 = 14,750.8
    assert sample_size_per_arm(0.10, 0.11) == 14751
