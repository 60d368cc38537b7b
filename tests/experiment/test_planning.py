"""The plan: alpha split, the sequential test's tuning and the planned sample, against hand calculations."""

import math

import pytest
from sentiment_devtools.experiment import planning, sequential


def test_the_alpha_split_spends_exactly_alpha_on_an_a_a_experiment():
    levels = planning.levels(0.05, guardrails=2)

    assert levels.primary + 2 * levels.inferiority == pytest.approx(0.05)
    assert (levels.primary, levels.inferiority, levels.non_inferiority) == pytest.approx((0.045, 0.0025, 0.025))


def test_the_tuned_boundary_at_alpha_5_percent_is_3_04_standard_errors():
    # x = 2 ln 20 + ln(1 + 2 ln 20) = 7.9361; sqrt((1 + x) / x * (ln(1 + x) + 2 ln 20)) = sqrt(1.1260 * 8.1816)
    assert planning.tuned_ratio(0.05) == pytest.approx(7.9361, abs=1e-4)
    assert planning.boundary_in_standard_errors(0.05) == pytest.approx(3.0352, abs=1e-4)


def test_the_mixing_variance_puts_the_boundary_there_and_nearly_minimises_it():
    effect, alpha, power = 0.01, 0.045, 0.8
    tau2 = planning.mixing_variance(effect, alpha, power)
    boundary = planning.boundary_in_standard_errors(alpha)
    # the look the test is tuned for: the effect is boundary + z_power standard errors away
    variance = (effect / (boundary + 0.841621)) ** 2

    width = float(sequential.half_width(variance, tau2, alpha))

    assert width / math.sqrt(variance) == pytest.approx(boundary, rel=1e-5)
    for other in (0.5 * tau2, 0.8 * tau2, 1.25 * tau2, 2 * tau2):
        assert float(sequential.half_width(variance, other, alpha)) > width


def test_the_planned_sample_of_the_confidence_display_experiment_by_hand():
    # design effect 1.7 x (0.1 x 0.9 / 0.9 + 0.11 x 0.89 / 0.1) x (3.0738 + 0.8416)^2 / 0.01^2
    boundary = planning.boundary_in_standard_errors(0.045)
    by_hand = 1.7 * (0.09 / 0.9 + 0.0979 / 0.1) * (boundary + 0.8416212) ** 2 / 0.01**2

    planned = planning.planned_reviews(0.10, 0.01, 0.10, 1.7, 0.045, 0.8)

    assert boundary == pytest.approx(3.0738, abs=1e-4)
    assert planned == math.ceil(by_hand) == 281213


def test_the_plan_detects_the_minimal_effect_in_either_direction():
    # 11% has a larger variance than 9%: a plan for "lower is better" must still see a worse canary at 11%
    assert planning.planned_reviews(0.10, -0.01, 0.10, 1.7, 0.045, 0.8) == 281213


def test_the_plan_for_a_90_10_split_is_far_larger_than_for_equal_arms():
    equal = planning.planned_reviews(0.10, 0.01, 0.50, 1.0, 0.045, 0.8)
    split = planning.planned_reviews(0.10, 0.01, 0.10, 1.0, 0.045, 0.8)

    assert split / equal == pytest.approx((0.09 / 0.9 + 0.0979 / 0.1) / (0.09 / 0.5 + 0.0979 / 0.5), rel=1e-3)
    assert split > 2.8 * equal


@pytest.mark.parametrize(("baseline", "effect"), [(0.0, 0.01), (0.995, 0.01), (0.1, 0.0)])
def test_a_plan_needs_two_rates_inside_zero_and_one(baseline, effect):
    with pytest.raises(ValueError, match="not rates in"):
        planning.planned_reviews(baseline, effect, 0.1, 1.0, 0.05, 0.8)
