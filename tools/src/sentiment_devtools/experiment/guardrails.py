"""The guardrails' data: two proportions per arm, whose difference is tested against a margin.

- error ratio: 5xx answers of served requests;
- prediction latency: predictions slower than the stable's p95 bucket bound,
  from the Prometheus histogram's cumulative `le` counts of each arm. A canary
  as fast as the stable has the same share of predictions above any bound (at
  most 5% above that one); a slower canary has more. Compared as proportions,
  the arms' distributions are tested where the guardrail looks (the tail),
  with a variance, instead of comparing two point estimates of a p95.

The unit is the request or the prediction, not the visitor: a call's latency
or failure depends on the service, not on who calls it. The difference and its
variance are Agresti and Caffo's (2000): one success and one failure added to
each arm, so that an arm with no error yet still has a variance, not zero.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

STABLE_QUANTILE = 0.95


@dataclass(frozen=True)
class Counts:
    """Events out of trials (arrays welcome)."""

    events: ArrayLike
    trials: ArrayLike


@dataclass(frozen=True)
class Histogram:
    """A Prometheus histogram's buckets: `bounds` ascending (the last +inf), cumulative counts on the last axis."""

    bounds: tuple[float, ...]
    cumulative: ArrayLike

    @property
    def total(self) -> NDArray:
        return np.asarray(self.cumulative)[..., -1]


@dataclass(frozen=True)
class TailShares:
    """The predictions of each arm slower than `bound`, the stable's p95 bucket bound."""

    bound: NDArray  # seconds; +inf when the stable's p95 is beyond the last finite bucket
    stable: Counts
    canary: Counts


def tail_shares(stable: Histogram, canary: Histogram, quantile: float = STABLE_QUANTILE) -> TailShares:
    """Each arm's predictions above the smallest bucket bound holding at least `quantile` of the stable's."""
    if stable.bounds != canary.bounds:
        raise ValueError("the arms' latency histograms have different buckets")
    stable_cumulative, canary_cumulative = np.broadcast_arrays(stable.cumulative, canary.cumulative)
    reached = stable_cumulative >= quantile * stable_cumulative[..., -1:]
    index = np.argmax(reached, axis=-1)[..., None]
    stable_below = np.take_along_axis(stable_cumulative, index, axis=-1)[..., 0]
    canary_below = np.take_along_axis(canary_cumulative, index, axis=-1)[..., 0]
    return TailShares(
        bound=np.asarray(stable.bounds)[index[..., 0]],
        stable=Counts(stable_cumulative[..., -1] - stable_below, stable_cumulative[..., -1]),
        canary=Counts(canary_cumulative[..., -1] - canary_below, canary_cumulative[..., -1]),
    )


def difference(stable: Counts, canary: Counts) -> tuple[NDArray, NDArray]:
    """The canary's proportion minus the stable's, and its variance (Agresti-Caffo)."""
    estimate, variance = 0.0, 0.0
    for sign, arm in ((-1, stable), (1, canary)):
        trials = np.asarray(arm.trials, float) + 2
        share = (np.asarray(arm.events, float) + 1) / trials
        estimate = estimate + sign * share
        variance = variance + share * (1 - share) / trials
    return np.asarray(estimate), np.asarray(variance)
