"""The decision rule proven by seeded simulation: the report's own code on thousands of simulated experiments.

Each experiment is looked at 34 times (4 looks on the first day, 1,000
assigned visitors apart, then daily up to the planned sample), with clustered
visitors: reviews per visitor varying (mean 3, CV^2 0.5), intra-visitor
correlation 0.2, 40% of visitors never reviewing, a 90/10 split and a 10%
baseline correction rate (experiment/simulation.py). Every bound is checked
with the simulation's own uncertainty: the exact binomial 95% interval of the
rate must lie on the right side of the requirement.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from sentiment_devtools.experiment.decision import Verdict
from sentiment_devtools.experiment.declaration import Declaration, load
from sentiment_devtools.experiment.simulation import Canary, Population, run, schedule

DECLARATIONS = Path(__file__).resolve().parents[2] / "k8s/experiments"
POPULATION = Population()


@pytest.fixture(scope="module")
def confidence_display() -> Declaration:
    return load(DECLARATIONS / "confidence-display.yaml")


@pytest.fixture(scope="module")
def model_version() -> Declaration:
    return load(DECLARATIONS / "model-version-v1-1-0.yaml")


def simulate(declaration: Declaration, canary: Canary, experiments: int, seed: int):
    return run(declaration, POPULATION, canary, experiments, seed, schedule(declaration, POPULATION))


def interval(flags: np.ndarray) -> tuple[float, float]:
    result = binomtest(int(np.sum(flags)), len(flags)).proportion_ci(confidence_level=0.95, method="exact")
    return result.low, result.high


def decided(outcome) -> np.ndarray:
    return np.isin(outcome.first_verdict(), [Verdict.PROMOTE, Verdict.ROLL_BACK])


@pytest.fixture(scope="module")
def a_a(confidence_display):
    return simulate(confidence_display, Canary(), 2000, seed=1)


def test_given_an_a_a_experiment_read_at_every_look_then_any_verdict_is_rarer_than_alpha(a_a, confidence_display):
    _, high = interval(decided(a_a))

    assert a_a.verdicts.shape == (2000, 34)
    assert high <= confidence_display.alpha, f"A/A verdicts in {np.mean(decided(a_a)):.2%} of experiments"


def test_given_an_a_a_experiment_then_the_split_is_almost_never_flagged(a_a):
    low, _ = interval(~np.any(a_a.decision.mismatch, axis=1))

    assert low >= 0.99


@pytest.mark.parametrize(("declaration", "change"), [("confidence_display", 0.10), ("model_version", -0.10)])
def test_given_the_planned_effect_then_the_canary_is_promoted_with_the_declared_power(request, declaration, change):
    declared = request.getfixturevalue(declaration)
    outcome = simulate(declared, Canary(correction_change=change), 2000 if change > 0 else 1000, seed=2)

    promoted = outcome.first_verdict() == Verdict.PROMOTE
    low, _ = interval(promoted)

    assert low >= declared.power, f"promoted in {np.mean(promoted):.1%} by the planned sample"
    assert not np.any(outcome.first_verdict() == Verdict.ROLL_BACK)


@pytest.mark.parametrize(
    ("declaration", "canary"),
    [
        # the primary in the wrong direction, 1.5 times the minimal effect (at 1 times: the rule's power, 84-90%)
        pytest.param("confidence_display", Canary(correction_change=-0.15), id="fewer-corrections-with-confidence"),
        pytest.param("model_version", Canary(correction_change=0.15), id="a-worse-model"),
        # a guardrail twice beyond its margin, while the primary looks better: tempting, and wrong
        pytest.param("confidence_display", Canary(correction_change=0.10, latency_factor=1.066), id="slower"),
        pytest.param("confidence_display", Canary(correction_change=0.10, error_increase=0.01), id="failing"),
    ],
)
def test_given_a_worse_canary_then_it_is_rolled_back_and_never_promoted(request, declaration, canary):
    outcome = simulate(request.getfixturevalue(declaration), canary, 1000, seed=3)

    rolled_back = outcome.first_verdict() == Verdict.ROLL_BACK
    low, _ = interval(rolled_back)

    assert low >= 0.95, f"rolled back in {np.mean(rolled_back):.1%}"
    assert not np.any(outcome.verdicts == Verdict.PROMOTE)


def test_given_a_canary_losing_30_percent_of_its_assignments_then_every_verdict_is_withheld(confidence_display):
    outcome = simulate(confidence_display, Canary(assignment_loss=0.3), 1000, seed=4)

    caught = outcome.mismatch_by(4000) & outcome.never_decided()
    low, _ = interval(caught)

    assert low >= 0.90, f"mismatch flagged by 4,000 visitors, nothing decided, in {np.mean(caught):.1%}"
    assert np.all(outcome.verdicts[outcome.decision.mismatch] == Verdict.WITHHELD)
