"""The decision rule at one look, on arms with known answers."""

import math
from pathlib import Path

import numpy as np
import pytest
from sentiment_devtools.experiment.decision import Arm, Verdict, decide
from sentiment_devtools.experiment.declaration import load
from sentiment_devtools.experiment.guardrails import Counts, Histogram
from sentiment_devtools.experiment.visitors import RatioSums

DECLARATIONS = Path(__file__).resolve().parents[2] / "k8s/experiments"
CONFIDENCE = load(DECLARATIONS / "confidence-display.yaml")
MODEL = load(DECLARATIONS / "model-version-v1-1-0.yaml")
BOUNDS = (0.004, 0.006, 0.01, math.inf)


def arm(reviews: int, rate: float, slower: float = 0.04, errors: float = 0.001, assigned: float = 0.0) -> Arm:
    """Visitors of three reviews each, corrections spread as evenly as the rate allows; predictions = reviews."""
    visitors = reviews // 3
    corrections = round(rate * reviews)
    per_visitor, extra = divmod(corrections, visitors)  # `extra` visitors have one correction more
    squares = visitors * per_visitor**2 + extra * (2 * per_visitor + 1)
    faster = round((1 - slower) * reviews)
    return Arm(
        assignments=round(assigned or visitors / 0.6),
        corrections=RatioSums(visitors, corrections, reviews, squares, 9 * visitors, 3 * corrections),
        latency=Histogram(BOUNDS, [reviews // 2, faster, reviews, reviews]),
        errors=Counts(round(errors * 2 * reviews), 2 * reviews),
    )


PLANNED = CONFIDENCE.planned_reviews_per_arm
STABLE = arm(PLANNED["stable"], 0.10)


def verdict(canary: Arm, declaration=CONFIDENCE, stable: Arm = STABLE) -> Verdict:
    return Verdict(int(decide(declaration, stable, canary).verdict))


def test_a_significantly_higher_correction_rate_within_the_guardrails_promotes_the_confidence_display():
    assert verdict(arm(PLANNED["canary"], 0.12)) is Verdict.PROMOTE


def test_the_same_numbers_roll_back_a_model_whose_users_correct_more():
    assert verdict(arm(PLANNED["canary"], 0.12), MODEL) is Verdict.ROLL_BACK
    assert verdict(arm(PLANNED["canary"], 0.08), MODEL) is Verdict.PROMOTE


@pytest.mark.parametrize(
    "canary",
    [
        pytest.param(arm(PLANNED["canary"], 0.08), id="correction-rate-significantly-lower"),
        pytest.param(arm(PLANNED["canary"], 0.12, slower=0.10), id="latency-beyond-its-margin"),
        pytest.param(arm(PLANNED["canary"], 0.12, errors=0.02), id="errors-beyond-their-margin"),
    ],
)
def test_a_significantly_worse_canary_is_rolled_back_even_when_its_primary_looks_better(canary):
    assert verdict(canary) is Verdict.ROLL_BACK


def test_a_guardrail_worse_but_within_its_margin_neither_rolls_back_nor_blocks_the_promotion():
    # 0.3 point more predictions over the stable's p95 and 0.2 point more errors: within 1 and 0.5 points
    assert verdict(arm(PLANNED["canary"], 0.12, slower=0.043, errors=0.003)) is Verdict.PROMOTE


def test_a_guardrail_not_yet_shown_within_its_margin_blocks_the_promotion():
    decision = decide(CONFIDENCE, arm(20000, 0.10), arm(2000, 0.15, slower=0.05))

    assert bool(decision.primary.better)
    assert not bool(decision.guardrails[0].within)
    assert Verdict(int(decision.verdict)) is Verdict.CONTINUE


def test_before_the_planned_sample_no_difference_is_continue_and_at_it_inconclusive():
    early = decide(CONFIDENCE, arm(20000, 0.10), arm(2000, 0.10))
    planned = decide(CONFIDENCE, STABLE, arm(PLANNED["canary"], 0.10))

    assert Verdict(int(early.verdict)) is Verdict.CONTINUE
    assert Verdict(int(planned.verdict)) is Verdict.INCONCLUSIVE
    assert float(planned.primary.low) < 0 < float(planned.primary.high)
    assert float(planned.primary.high) - float(planned.primary.low) < 2 * 0.01  # narrower than the effect sought


def test_a_sample_ratio_mismatch_withholds_even_a_clear_promotion():
    lost = arm(PLANNED["canary"], 0.12, assigned=PLANNED["canary"] / 3 / 0.6 * 0.7)

    decision = decide(CONFIDENCE, STABLE, lost)

    assert bool(decision.primary.better)
    assert bool(decision.mismatch)
    assert Verdict(int(decision.verdict)) is Verdict.WITHHELD


def test_early_looks_need_far_more_than_a_fixed_horizon_test_to_decide():
    # 16% against 10% on 1,000 canary reviews: z > 4 per visitor, far past 1.96, yet no verdict this early
    decision = decide(CONFIDENCE, arm(9000, 0.10), arm(1000, 0.16))

    z = float(decision.primary.estimate) / math.sqrt(float(decision.primary.variance))
    assert z > 4
    assert float(decision.primary.p_value) > CONFIDENCE.levels.primary
    assert Verdict(int(decision.verdict)) is Verdict.CONTINUE


def test_the_rule_on_arrays_is_the_rule_on_each_look():
    canaries = [arm(PLANNED["canary"], rate) for rate in (0.08, 0.10, 0.12)]
    stacked = Arm(
        assignments=np.array([c.assignments for c in canaries]),
        corrections=RatioSums(*(np.array([getattr(c.corrections, f) for c in canaries]) for f in (
            "visitors", "numerator", "denominator", "numerator_squares", "denominator_squares", "products"))),
        latency=Histogram(BOUNDS, np.array([c.latency.cumulative for c in canaries])),
        errors=Counts(np.array([c.errors.events for c in canaries]), np.array([c.errors.trials for c in canaries])),
    )  # fmt: skip

    together = decide(CONFIDENCE, STABLE, stacked).verdict

    assert list(together) == [verdict(canary) for canary in canaries]
    assert list(together) == [Verdict.ROLL_BACK, Verdict.INCONCLUSIVE, Verdict.PROMOTE]
