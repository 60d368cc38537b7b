"""Seeded simulation of whole experiments, looked at again and again, decided by the report's own code.

Visitors arrive and are split between the arms; each writes M reviews (M = 0
for those who only look) and corrects C of them, where a visitor's propensity
to correct is their own (beta-distributed: reviews of one visitor are
correlated) and M varies between visitors (1 + negative binomial). The
simulation draws, per look and arm, how many new visitors of each kind (m, c)
arrived, a multinomial over the finite set of kinds, exact for the model and
cheap enough to run thousands of experiments in seconds. Predictions take a
lognormal time (median 3 ms, p99 7 ms, as `make bench` measures) counted into
the app-service's histogram buckets; requests fail at a fixed ratio.

`run` returns each experiment's verdict at each look; figures.py (`make
experiment-figures`) prints the figures of docs/monitoring.md from it, for the
rule of decision.py and for the rules it replaced (old_rules.py).
"""

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.stats import betabinom, nbinom, norm

from sentiment_devtools.experiment.decision import Arm, Decision, Verdict, decide
from sentiment_devtools.experiment.declaration import Declaration
from sentiment_devtools.experiment.guardrails import Counts, Histogram
from sentiment_devtools.experiment.visitors import RatioSums

# The app-service's prediction latency buckets (app-service metrics.py): 5% apart from 1 to 30 ms, then coarse.
APP_SERVICE_BUCKETS = (
    *(float(f"{0.001 * 1.05**i:.3g}") for i in range(71)),
    0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, math.inf,
)  # fmt: skip


@dataclass(frozen=True)
class Population:
    """The visitors and the service of the stable arm."""

    correction_rate: float = 0.10  # corrections per review
    reviews_per_visitor: float = 3.0  # mean, among visitors who review
    reviews_cv2: float = 0.5  # squared coefficient of variation of a reviewing visitor's reviews
    correlation: float = 0.2  # between two reviews of one visitor being corrected
    share_without_review: float = 0.4  # of assigned visitors
    max_reviews: int = 15  # the negative binomial, truncated (its tail above holds 0.06%)
    latency_median: float = 0.003  # seconds, lognormal
    latency_p99: float = 0.007
    # Buckets between 4 and 10 ms, where the stable's p95 (5.5 ms) is: the rule reads no other, and the
    # simulation runs three times faster than with all 80 of the app-service's.
    latency_buckets: tuple[float, ...] = (*(b for b in APP_SERVICE_BUCKETS if 0.004 <= b <= 0.010), math.inf)
    error_ratio: float = 0.001
    requests_per_review: int = 2  # the review and its feedback


@dataclass(frozen=True)
class Canary:
    """How the canary differs from the stable."""

    correction_change: float = 0.0  # relative: 0.1 is a correction rate 10% higher
    latency_factor: float = 1.0  # every prediction this many times slower
    error_increase: float = 0.0  # added to the error ratio
    assignment_loss: float = 0.0  # share of the canary's visitors never counted nor seen (a broken split)


@dataclass(frozen=True)
class Kinds:
    """The finite set of visitors (m reviews, c corrections), their probabilities and their sums' terms."""

    probabilities: NDArray  # (K,)
    terms: NDArray  # (K, 6): reviewing, m, c, m^2, c^2, c m

    @classmethod
    def of(cls, population: Population, correction_rate: float) -> "Kinds":
        mean = population.reviews_per_visitor - 1
        variance = population.reviews_cv2 * population.reviews_per_visitor**2
        if mean == 0:
            extra = np.array([1.0])  # every reviewing visitor writes exactly one review
        else:
            success = mean / variance
            extra = nbinom.pmf(np.arange(population.max_reviews), mean * success / (1 - success), success)
            extra /= extra.sum()
        spread = 1 / population.correlation - 1  # a + b of the beta of each visitor's propensity
        probabilities, terms = [population.share_without_review], [(0, 0, 0, 0, 0, 0)]
        for m, p_m in enumerate(extra, start=1):
            corrections = np.arange(m + 1)
            p_c = betabinom.pmf(corrections, m, correction_rate * spread, (1 - correction_rate) * spread)
            probabilities += list((1 - population.share_without_review) * p_m * p_c)
            terms += [(1, m, c, m * m, c * c, c * m) for c in corrections]
        order = np.argsort(probabilities)[::-1]  # numpy's multinomial stops once every visitor is placed
        return cls(np.array(probabilities)[order], np.array(terms, dtype=np.int64)[order])

    def design_effect(self) -> float:
        """Var(C - R M) / (E[M] R (1 - R)): the visitor-level variance over the per-review binomial one."""
        _, m, c, _, _, _ = self.terms.T
        mean_m, mean_c = self.probabilities @ m, self.probabilities @ c
        rate = mean_c / mean_m
        return float(self.probabilities @ (c - rate * m) ** 2 / (mean_m * rate * (1 - rate)))

    def reviews_per_assignment(self) -> float:
        return float(self.probabilities @ self.terms[:, 1])


@dataclass(frozen=True)
class ArmLooks:
    """One arm's cumulative numbers, (experiments, looks)."""

    assignments: NDArray
    sums: NDArray  # (E, L, 6): visitors, reviews, corrections, reviews^2, corrections^2, products
    latency: NDArray  # (E, L, buckets) cumulative over buckets
    requests: NDArray
    errors: NDArray

    def arm(self, buckets: tuple[float, ...]) -> Arm:
        visitors, reviews, corrections, reviews2, corrections2, products = np.moveaxis(self.sums, -1, 0)
        return Arm(
            assignments=self.assignments,
            corrections=RatioSums(visitors, corrections, reviews, corrections2, reviews2, products),
            latency=Histogram(buckets, self.latency),
            errors=Counts(self.errors, self.requests),
        )


@dataclass(frozen=True)
class Outcome:
    assigned: NDArray  # (L,) visitors assigned by each look, both arms, before any loss
    stable: ArmLooks
    canary: ArmLooks
    decision: Decision = field(repr=False)

    @property
    def verdicts(self) -> NDArray:
        return self.decision.verdict

    def first_verdict(self) -> NDArray:
        """Each experiment's first PROMOTE or ROLL_BACK (the one acted on), CONTINUE if none."""
        final = np.isin(self.verdicts, [Verdict.PROMOTE, Verdict.ROLL_BACK])
        first = np.argmax(final, axis=1)
        found = final[np.arange(len(first)), first]
        return np.where(found, self.verdicts[np.arange(len(first)), first], Verdict.CONTINUE)

    def rate(self, verdict: Verdict) -> float:
        return float(np.mean(self.first_verdict() == verdict))

    def any_verdict_rate(self) -> float:
        return float(np.mean(np.isin(self.first_verdict(), [Verdict.PROMOTE, Verdict.ROLL_BACK])))

    def mismatch_by(self, assigned: int) -> NDArray:
        """Per experiment: the sample-ratio check flagged a mismatch at a look with at most `assigned` visitors."""
        return np.any(self.decision.mismatch[:, self.assigned <= assigned], axis=1)

    def never_decided(self) -> NDArray:
        return ~np.any(np.isin(self.verdicts, [Verdict.PROMOTE, Verdict.ROLL_BACK]), axis=1)


def schedule(declaration: Declaration, population: Population, looks: int = 30, early: int = 4) -> NDArray:
    """Visitors assigned at each look: `early` looks 1,000 apart on the first day, then `looks` daily ones.

    The last look is where the planned sample of reviews is expected.
    """
    per_assignment = Kinds.of(population, population.correction_rate).reviews_per_assignment()
    planned = declaration.planned_reviews / per_assignment
    daily = np.linspace(planned / looks, planned, looks)
    first_day = np.arange(1, early + 1) * 1000.0
    return np.round(np.concatenate([first_day[first_day < daily[0]], daily])).astype(np.int64)


def run(
    declaration: Declaration,
    population: Population,
    canary: Canary,
    experiments: int,
    seed: int,
    assigned: NDArray,
) -> Outcome:
    """Simulate `experiments` experiments looked at with `assigned` visitors, and decide each look."""
    rng = np.random.default_rng(seed)
    share = declaration.split.canary
    arms = {
        "stable": (Kinds.of(population, population.correction_rate), 1.0, population.error_ratio),
        "canary": (
            Kinds.of(population, population.correction_rate * (1 + canary.correction_change)),
            canary.latency_factor,
            population.error_ratio + canary.error_increase,
        ),
    }
    looks = len(assigned)
    new_visitors = np.diff(assigned, prepend=0)
    drawn: dict[str, dict[str, list[NDArray]]] = {arm: {} for arm in arms}
    for look in range(looks):
        to_canary = rng.binomial(new_visitors[look], share, size=experiments)
        counted = {
            "stable": new_visitors[look] - to_canary,
            "canary": rng.binomial(to_canary, 1 - canary.assignment_loss),
        }
        for name, (kinds, slowdown, error_ratio) in arms.items():
            sums = rng.multinomial(counted[name], kinds.probabilities) @ kinds.terms
            reviews = sums[:, 1]
            requests = population.requests_per_review * reviews
            increments = {
                "assignments": counted[name],
                "sums": sums,
                "latency": rng.multinomial(reviews, bucket_probabilities(population, slowdown)),
                "requests": requests,
                "errors": rng.binomial(requests, error_ratio),
            }
            for key, value in increments.items():
                drawn[name].setdefault(key, []).append(value)
    cumulative = {name: _cumulative(parts) for name, parts in drawn.items()}
    buckets = population.latency_buckets
    decision = decide(declaration, cumulative["stable"].arm(buckets), cumulative["canary"].arm(buckets))
    return Outcome(assigned, cumulative["stable"], cumulative["canary"], decision)


def _cumulative(increments: dict[str, list[NDArray]]) -> ArmLooks:
    """Sums over the looks; the latency also over the buckets, as Prometheus's `le` counts are."""
    values = {key: np.cumsum(np.stack(parts, axis=1), axis=1) for key, parts in increments.items()}
    values["latency"] = np.cumsum(values["latency"], axis=-1)
    return ArmLooks(**values)


def latency_sigma(population: Population) -> float:
    return math.log(population.latency_p99 / population.latency_median) / norm.ppf(0.99)


def bucket_probabilities(population: Population, slowdown: float) -> NDArray:
    """The share of predictions in each bucket (not cumulative) of a lognormal latency, `slowdown` times slower."""
    bounds = np.asarray(population.latency_buckets)
    below = norm.cdf(np.log(bounds / (slowdown * population.latency_median)) / latency_sigma(population))
    return np.diff(below, prepend=0.0)
