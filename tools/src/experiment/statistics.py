"""The statistics of a two-arm experiment on a proportion (the correction rate)."""

import math
from dataclasses import dataclass

from scipy.stats import norm


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class ZTest:
    """A two-proportion z-test of b against a (pooled variance)."""

    difference: float  # b's proportion minus a's
    z: float
    p_value: float  # two-sided


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson's score interval: unlike the normal approximation, sound for small counts and rates near 0."""
    if trials == 0:
        return Interval(0.0, 1.0)
    z = norm.ppf(1 - (1 - confidence) / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_z_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> ZTest:
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    if standard_error == 0:
        return ZTest(p_b - p_a, 0.0, 1.0)
    z = (p_b - p_a) / standard_error
    return ZTest(p_b - p_a, z, float(2 * norm.sf(abs(z))))


def sample_size_per_arm(p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Observations each arm needs for a two-sided two-proportion z-test to tell p_a from p_b."""
    z_alpha, z_power = norm.ppf(1 - alpha / 2), norm.ppf(power)
    mean = (p_a + p_b) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return math.ceil(spread**2 / (p_b - p_a) ** 2)
