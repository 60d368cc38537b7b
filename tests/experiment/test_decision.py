"""The original design's decision matrix on arms with known answers."""

import pytest
from experiment.decision import Arm, Verdict, analyse


def arm(
    version: str, reviews: int, corrections: int, mean_ms: float = 3.0, p95_ms: float = 6.0, errors: int = 0
) -> Arm:
    """An arm whose every review was one timed prediction and one request (plus as many feedback requests)."""
    return Arm(
        version=version,
        reviews=reviews,
        corrections=corrections,
        predictions=reviews,
        latency_mean=mean_ms / 1000,
        latency_p95=p95_ms / 1000,
        requests=2 * reviews,
        errors=errors,
    )


def test_a_significant_lift_of_more_than_ten_percent_within_the_guardrails_is_promoted():
    # 10% vs 13% on 2,000 reviews each (planned: 14,751 for 10% -> 11%, so more are needed)...
    early = analyse(arm("stable", 2000, 200), arm("canary", 2000, 260))
    # ...and the same rates once both arms hold the planned sample
    done = analyse(arm("stable", 15000, 1500), arm("canary", 15000, 1950))

    assert early.verdict is Verdict.NOT_ENOUGH_DATA
    assert early.reviews_planned == 14751
    assert early.reasons == ("stable needs 12751 more reviews (of 14751 planned per arm)",
                             "canary needs 12751 more reviews (of 14751 planned per arm)")  # fmt: skip
    assert done.verdict is Verdict.PROMOTE
    assert done.lift == pytest.approx(1.3)
    assert done.test.p_value < 1e-15


def test_a_lift_below_ten_percent_needs_review_even_when_significant():
    # 10% vs 10.8%: a real difference (p ~ 0.02) but not the 1.10x the design asked for
    analysis = analyse(arm("stable", 40000, 4000), arm("canary", 40000, 4320))

    assert analysis.test.p_value < 0.05
    assert analysis.verdict is Verdict.NEEDS_REVIEW
    assert "1.08x the stable's" in analysis.reasons[0]


def test_a_large_but_not_significant_lift_needs_review():
    # The planned sample reached on a rate of 50%, where 1.10x needs few reviews but 52% vs 50% is noise
    analysis = analyse(arm("stable", 1600, 800), arm("canary", 1600, 830))

    assert analysis.reviews_planned < 1600
    assert analysis.verdict is Verdict.NEEDS_REVIEW


@pytest.mark.parametrize(
    ("canary", "reason"),
    [
        (arm("canary", 500, 60, mean_ms=3.2), "the canary's mean latency is 1.07x the stable's (at most 1.05x)"),
        (arm("canary", 500, 60, p95_ms=6.4), "the canary's p95 latency is 1.07x the stable's (at most 1.05x)"),
        (
            arm("canary", 500, 60, errors=10),
            "the canary's error ratio 1.00% exceeds the stable's 0.00% by more than 0.5%",
        ),
        (arm("canary", 500, 25), "the canary's correction rate is significantly lower (p = 7.23e-05)"),
    ],
)
def test_a_broken_guardrail_rolls_back_at_once(canary, reason):
    analysis = analyse(arm("stable", 500, 60), canary)

    assert analysis.verdict is Verdict.ROLL_BACK
    assert analysis.reasons == (reason,)


def test_guardrails_do_not_speak_on_a_handful_of_observations():
    # 50% slower and 4 failures, but on 100 predictions: noise, not yet a broken guardrail
    analysis = analyse(arm("stable", 100, 10), arm("canary", 100, 12, mean_ms=4.5, p95_ms=9.0, errors=4))

    assert analysis.verdict is Verdict.NOT_ENOUGH_DATA


def test_without_a_correction_on_the_stable_the_sample_cannot_be_planned():
    analysis = analyse(arm("stable", 40, 0), arm("canary", 5, 1))

    assert analysis.verdict is Verdict.NOT_ENOUGH_DATA
    assert analysis.reviews_planned is None
    assert "baseline" in analysis.reasons[0]
