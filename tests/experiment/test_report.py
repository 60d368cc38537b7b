"""The report's verdict and words when a series is missing, the split is broken, or the canary wins."""

import math
from pathlib import Path

from sentiment_devtools.experiment.decision import Verdict
from sentiment_devtools.experiment.declaration import load
from sentiment_devtools.experiment.guardrails import Counts, Histogram
from sentiment_devtools.experiment.prometheus import Observation
from sentiment_devtools.experiment.report import analyse
from sentiment_devtools.experiment.text import render
from sentiment_devtools.experiment.visitors import VisitorSums

DECLARATION = load(Path(__file__).resolve().parents[2] / "k8s/experiments/confidence-display.yaml")
BOUNDS = (0.004, 0.006, 0.01, math.inf)


def observation(version: str, visitors: int, rate: float, assigned: int | None, sums: bool = True) -> Observation:
    """Visitors of three reviews, each answering every review; corrections spread evenly."""
    reviews, corrections = 3 * visitors, round(3 * visitors * rate)
    per_visitor, extra = divmod(corrections, visitors)
    squares = visitors * per_visitor**2 + extra * (2 * per_visitor + 1)
    per_visitor_sums = VisitorSums(
        visitors, reviews, reviews, corrections, 9 * visitors, 9 * visitors, squares,
        9 * visitors, 3 * corrections, 3 * corrections,
    )  # fmt: skip
    return Observation(
        version=version,
        assignments=assigned,
        visitors=per_visitor_sums if sums else None,
        reviews=reviews,
        feedback=reviews,
        corrections=corrections,
        latency=Histogram(BOUNDS, [reviews // 2, round(0.96 * reviews), reviews, reviews]),
        latency_mean=0.003,
        errors=Counts(reviews // 1000, 2 * reviews),
    )


def test_without_the_assignment_and_visitor_series_every_verdict_is_withheld_and_the_report_says_which():
    report = analyse(
        DECLARATION, observation("stable", 90, 0.1, None, sums=False), observation("canary", 10, 0.2, None, sums=False)
    )

    printed = render(report, "test")

    assert report.verdict is Verdict.WITHHELD
    assert "experiment_assignments_total" in report.reasons[0]
    assert "experiment_visitor_reviews_squared_total" in report.reasons[0]
    assert "  Sample ratio: not checked, no assignment counts\n" in printed
    assert "    not tested: no visitor-level sums\n" in printed
    assert "\n  Decision: WITHHELD\n" in printed


def test_a_broken_split_is_said_first_and_withholds_the_verdict():
    stable, canary = observation("stable", 90000, 0.10, 150000), observation("canary", 9400, 0.12, 11000)

    report = analyse(DECLARATION, stable, canary)
    printed = render(report, "test")

    assert report.verdict is Verdict.WITHHELD
    assert report.reasons[0].startswith("the assignments do not follow the declared 10% canary share")
    assert "(6.8%, declared 10%): MISMATCH: every verdict withheld" in printed


def test_a_winning_canary_is_promoted_with_the_rule_and_both_kinds_of_figures_labelled():
    stable, canary = observation("stable", 84400, 0.10, 140700), observation("canary", 9400, 0.12, 15630)

    report = analyse(DECLARATION, stable, canary)
    printed = render(report, "test")

    assert report.verdict is Verdict.PROMOTE
    assert report.reasons[-1] == "every guardrail is significantly within its margin"
    assert "    1. sample ratio first: a mismatch with the declared split withholds every verdict\n" in printed
    assert "    always valid, at any look: p = " in printed
    assert "    fixed horizon, valid ONCE, at the planned sample only: z = " in printed
    assert "\n  Decision: PROMOTE\n" in printed


def test_at_the_planned_sample_no_difference_is_no_detectable_effect_with_its_confidence_sequence():
    stable, canary = observation("stable", 84400, 0.10, 140700), observation("canary", 9400, 0.10, 15630)

    report = analyse(DECLARATION, stable, canary)

    assert report.verdict is Verdict.INCONCLUSIVE
    assert report.reasons[0].startswith(
        "no detectable effect on the correction rate at the planned sample: it is within ["
    )
    assert "\n  Decision: INCONCLUSIVE\n" in render(report, "test")
