"""The decision matrix this package used before issue 16, kept to measure what it did (experiment.figures).

The original design's rule, as decision.py applied it until issue 16: roll back at any time
when the canary's mean or p95 latency exceeds 1.05 times the stable's (both
arms with at least 200 predictions), its error ratio exceeds the stable's by
0.5 point (at least 5 failures), or its correction rate is significantly lower
(two-proportion z-test per review, p < 0.05); promote, once both arms hold the
sample Fleiss' formula plans for a 10% lift with equal arms, when the canary's
observed rate is at least 1.10 times the stable's and significantly higher.
"""

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

ALPHA, POWER, MIN_LIFT, MAX_LATENCY_RATIO, MIN_PREDICTIONS = 0.05, 0.8, 1.10, 1.05, 200


def z_test(stable_corrections: ArrayLike, stable_reviews: ArrayLike, canary_corrections, canary_reviews):
    """Two-proportion z-test per review, pooled variance: (canary minus stable, two-sided p)."""
    s_x, s_n = np.asarray(stable_corrections, float), np.asarray(stable_reviews, float)
    c_x, c_n = np.asarray(canary_corrections, float), np.asarray(canary_reviews, float)
    difference = c_x / c_n - s_x / s_n
    pooled = (s_x + c_x) / (s_n + c_n)
    standard_error = np.sqrt(pooled * (1 - pooled) * (1 / s_n + 1 / c_n))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(standard_error > 0, difference / standard_error, 0.0)
    return difference, 2 * norm.sf(np.abs(z))


def sample_size_per_arm(p_a: float, p_b: float) -> int:
    """Fleiss' formula without continuity correction: equal arms, two-sided alpha 0.05, power 0.8."""
    z_alpha, z_power = norm.ppf(1 - ALPHA / 2), norm.ppf(POWER)
    mean = (p_a + p_b) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return math.ceil(spread**2 / (p_b - p_a) ** 2)


def histogram_quantile(quantile: float, bounds: tuple[float, ...], cumulative: ArrayLike) -> NDArray:
    """Prometheus's histogram_quantile: linear interpolation inside the bucket holding the rank."""
    cumulative = np.asarray(cumulative, float)
    upper = np.asarray(bounds)
    lower = np.concatenate([[0.0], upper[:-1]])
    rank = quantile * cumulative[..., -1:]
    index = np.argmax(cumulative >= rank, axis=-1)[..., None]
    below = np.where(index > 0, np.take_along_axis(cumulative, np.maximum(index - 1, 0), axis=-1), 0.0)
    within = np.take_along_axis(cumulative, index, axis=-1) - below
    start, end = lower[index], upper[index]
    value = start + (end - start) * (rank - below) / np.where(within > 0, within, 1.0)
    # the rank in the +Inf bucket: Prometheus answers the last finite bound
    return np.where(np.isinf(end), start, value)[..., 0]


def promoted(stable_corrections, stable_reviews, canary_corrections, canary_reviews) -> NDArray:
    """The promote rule at the planned sample: an observed lift of at least 1.10, significant."""
    difference, p = z_test(stable_corrections, stable_reviews, canary_corrections, canary_reviews)
    lift = (np.asarray(canary_corrections) / np.asarray(canary_reviews)) / (
        np.asarray(stable_corrections) / np.asarray(stable_reviews)
    )
    return (lift >= MIN_LIFT) & (difference > 0) & (p < ALPHA)


def rolled_back_on_correction_rate(stable_corrections, stable_reviews, canary_corrections, canary_reviews):
    difference, p = z_test(stable_corrections, stable_reviews, canary_corrections, canary_reviews)
    return (difference < 0) & (p < ALPHA)


def rolled_back_on_latency(
    bounds: tuple[float, ...], stable: ArrayLike, canary: ArrayLike, stable_mean: ArrayLike, canary_mean: ArrayLike
) -> NDArray:
    """Mean or p95 more than 1.05 times the stable's, both arms with 200 predictions: point estimates, no test."""
    stable_p95 = histogram_quantile(0.95, bounds, stable)
    canary_p95 = histogram_quantile(0.95, bounds, canary)
    measured = (np.asarray(stable)[..., -1] >= MIN_PREDICTIONS) & (np.asarray(canary)[..., -1] >= MIN_PREDICTIONS)
    slower = (np.asarray(canary_mean) > MAX_LATENCY_RATIO * np.asarray(stable_mean)) | (
        canary_p95 > MAX_LATENCY_RATIO * stable_p95
    )
    return measured & slower
