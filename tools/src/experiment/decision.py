"""The original design's decision matrix, on the two arms' numbers.

Accept (promote) the canary when its correction rate is at least 10% higher
than the stable's, with its mean and p95 prediction latency at most 5% worse.
Made precise (docs/monitoring.md, "The decision"):

1. roll back, at any time, when a guardrail breaks: latency more than 5%
   worse (with enough predictions on both arms to say), the error ratio above
   the stable's by more than the SLO's whole error budget (with enough
   failures to say), or a correction rate significantly lower than the
   stable's;
2. not enough data yet, until both arms hold the sample planned to detect a
   10% lift at the stated alpha and power (a fixed horizon: deciding earlier on
   the primary metric would inflate the false-positive rate);
3. promote, when the canary's rate is at least 1.10 times the stable's and
   significantly higher;
4. needs review otherwise: the planned sample showed no such lift, and a
   person weighs what else the canary brings.
"""

import enum
from dataclasses import dataclass

from experiment.statistics import Interval, ZTest, sample_size_per_arm, two_proportion_z_test, wilson_interval


class Verdict(enum.Enum):
    PROMOTE = "promote"
    NEEDS_REVIEW = "needs review"
    ROLL_BACK = "roll back"
    NOT_ENOUGH_DATA = "not enough data yet"


@dataclass(frozen=True)
class Arm:
    """One version's numbers over the experiment's window."""

    version: str
    reviews: int
    corrections: int
    predictions: int  # timed calls to the model-service
    latency_mean: float | None  # seconds
    latency_p95: float | None
    requests: int  # served requests
    errors: int  # of which answered 5xx

    @property
    def correction_rate(self) -> float | None:
        return self.corrections / self.reviews if self.reviews else None

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Criteria:
    min_lift: float = 1.10  # canary correction rate / stable's, to promote
    max_latency_ratio: float = 1.05  # canary mean and p95 latency / stable's
    error_margin: float = 0.005  # the SLO's error budget: canary error ratio may exceed stable's by less
    min_errors: int = 5  # failures on the canary before the error guardrail speaks
    min_predictions: int = 200  # predictions on each arm before the latency guardrail speaks
    alpha: float = 0.05
    power: float = 0.8


@dataclass(frozen=True)
class Analysis:
    stable: Arm
    canary: Arm
    criteria: Criteria
    stable_interval: Interval
    canary_interval: Interval
    test: ZTest | None  # None until both arms have reviews
    reviews_planned: int | None  # per arm; None while the stable's baseline rate is unknown
    verdict: Verdict
    reasons: tuple[str, ...]

    @property
    def lift(self) -> float | None:
        stable, canary = self.stable.correction_rate, self.canary.correction_rate
        return canary / stable if stable and canary is not None else None


def analyse(stable: Arm, canary: Arm, criteria: Criteria = Criteria()) -> Analysis:
    test = None
    if stable.reviews and canary.reviews:
        test = two_proportion_z_test(stable.corrections, stable.reviews, canary.corrections, canary.reviews)
    planned = None
    if stable.correction_rate:
        target = min(1.0, stable.correction_rate * criteria.min_lift)
        planned = sample_size_per_arm(stable.correction_rate, target, criteria.alpha, criteria.power)
    verdict, reasons = _decide(stable, canary, criteria, test, planned)
    return Analysis(
        stable,
        canary,
        criteria,
        wilson_interval(stable.corrections, stable.reviews),
        wilson_interval(canary.corrections, canary.reviews),
        test,
        planned,
        verdict,
        tuple(reasons),
    )


def _decide(
    stable: Arm, canary: Arm, criteria: Criteria, test: ZTest | None, planned: int | None
) -> tuple[Verdict, list[str]]:
    broken = _broken_guardrails(stable, canary, criteria, test)
    if broken:
        return Verdict.ROLL_BACK, broken
    if planned is None:
        return Verdict.NOT_ENOUGH_DATA, ["no correction on the stable arm yet: its rate, the baseline, is unknown"]
    missing = {arm.version: planned - arm.reviews for arm in (stable, canary) if arm.reviews < planned}
    if missing:
        return Verdict.NOT_ENOUGH_DATA, [
            f"{version} needs {count} more reviews (of {planned} planned per arm)" for version, count in missing.items()
        ]
    assert test is not None
    lift = canary.correction_rate / stable.correction_rate
    if not _latency_measured(stable, canary, criteria):
        return Verdict.NEEDS_REVIEW, [f"the latency guardrail has fewer than {criteria.min_predictions} predictions"]
    if lift >= criteria.min_lift and test.difference > 0 and test.p_value < criteria.alpha:
        return Verdict.PROMOTE, [f"the canary's correction rate is {lift:.2f}x the stable's (p = {test.p_value:.3g})"]
    return Verdict.NEEDS_REVIEW, [
        f"the canary's correction rate is {lift:.2f}x the stable's (p = {test.p_value:.3g}): "
        f"not a significant lift of at least {criteria.min_lift:.2f}x"
    ]


def _broken_guardrails(stable: Arm, canary: Arm, criteria: Criteria, test: ZTest | None) -> list[str]:
    broken = []
    if _latency_measured(stable, canary, criteria):
        for name, canary_value, stable_value in (
            ("mean", canary.latency_mean, stable.latency_mean),
            ("p95", canary.latency_p95, stable.latency_p95),
        ):
            if canary_value > criteria.max_latency_ratio * stable_value:
                broken.append(
                    f"the canary's {name} latency is {canary_value / stable_value:.2f}x the stable's "
                    f"(at most {criteria.max_latency_ratio:.2f}x)"
                )
    if canary.errors >= criteria.min_errors and canary.error_ratio > stable.error_ratio + criteria.error_margin:
        broken.append(
            f"the canary's error ratio {canary.error_ratio:.2%} exceeds the stable's {stable.error_ratio:.2%} "
            f"by more than {criteria.error_margin:.1%}"
        )
    if test is not None and test.difference < 0 and test.p_value < criteria.alpha:
        broken.append(f"the canary's correction rate is significantly lower (p = {test.p_value:.3g})")
    return broken


def _latency_measured(stable: Arm, canary: Arm, criteria: Criteria) -> bool:
    return all(
        arm.predictions >= criteria.min_predictions and arm.latency_mean and arm.latency_p95 for arm in (stable, canary)
    )
