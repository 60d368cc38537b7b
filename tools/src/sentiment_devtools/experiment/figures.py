"""`make experiment-figures`: the decision's error rates before and after issue 16, by seeded simulation.

`python -m sentiment_devtools.experiment.figures` prints them.

Every figure of docs/monitoring.md's table comes from here: the same simulated
experiments (experiment.simulation) decided by the rules this package used
before (old_rules.py) and by the rule of decision.py, with the declarations of
k8s/experiments/. Takes about 30 s on two busy cores.
"""

import argparse
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.stats import norm

from sentiment_devtools.experiment import old_rules
from sentiment_devtools.experiment.decision import Verdict, guardrail_test
from sentiment_devtools.experiment.declaration import Declaration, load
from sentiment_devtools.experiment.guardrails import Histogram, tail_shares
from sentiment_devtools.experiment.simulation import (
    APP_SERVICE_BUCKETS,
    Canary,
    Kinds,
    Outcome,
    Population,
    latency_sigma,
    run,
    schedule,
)

PROMOTE, ROLL_BACK = Verdict.PROMOTE, Verdict.ROLL_BACK
DECLARATIONS = Path(__file__).resolve().parents[4] / "k8s/experiments"
UNCLUSTERED = Population(reviews_per_visitor=1.0, reviews_cv2=0.0)
TEN_REVIEWS = Population(reviews_per_visitor=10.0, max_reviews=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sentiment_devtools.experiment.figures", description=__doc__.splitlines()[0].partition(": ")[2]
    )
    parser.add_argument("--experiments", type=int, default=2000, help="simulated experiments per figure")
    parser.add_argument("--seed", type=int, default=16)
    arguments = parser.parse_args(argv)
    confidence = load(DECLARATIONS / "confidence-display.yaml")
    model = load(DECLARATIONS / "model-version-v1-1-0.yaml")
    n, seed = arguments.experiments, arguments.seed
    print(f"{n} simulated experiments per figure, seed {seed}; 90/10 split, 10% baseline correction rate\n")
    for row in _rows(confidence, model, n, seed):
        print(row)
    return 0


def _rows(confidence: Declaration, model: Declaration, n: int, seed: int):
    old_per_arm = old_rules.sample_size_per_arm(0.10, 0.11)
    yield (
        f"plan: old {old_per_arm} reviews per arm (equal arms, fixed horizon, recomputed from the data); "
        f"new {confidence.planned_reviews} reviews declared ({confidence.planned_reviews_per_arm['stable']} stable, "
        f"{confidence.planned_reviews_per_arm['canary']} canary: 90/10, design effect "
        f"{confidence.baseline.design_effect}, sequential test)"
    )

    fifty = schedule(confidence, UNCLUSTERED, looks=50, early=0)
    unclustered = run(confidence, UNCLUSTERED, Canary(), n, seed, fifty)
    looks = _old_primary(unclustered)
    yield (
        f"A/A, 50 looks, one review per visitor: per-review p < 0.05 at some look {_pct(np.any(looks[1] < 0.05, 1))}, "
        f"old roll-back on the correction rate {_pct(np.any((looks[0] < 0) & (looks[1] < 0.05), 1))}; "
        f"new rule: any verdict {_pct(_decided(unclustered))}, roll-back {unclustered.rate(Verdict.ROLL_BACK):.1%}"
    )

    for population, label in ((Population(), "3 reviews per visitor"), (TEN_REVIEWS, "10 reviews per visitor")):
        one = run(confidence, population, Canary(), n, seed + 1, _assigned_for_canary_reviews(population, old_per_arm))
        _, p = _old_primary(one)
        fixed = one.decision.primary.estimate / np.sqrt(one.decision.primary.variance)
        yield (
            f"A/A, one look at {old_per_arm} canary reviews, {label} (CV^2 0.5, correlation 0.2): per-review z-test "
            f"p < 0.05 in {_pct(p[:, 0] < 0.05)}; visitor-level (delta method) z-test {_pct(np.abs(fixed) > 1.96)}"
        )
    daily_ten = run(confidence, TEN_REVIEWS, Canary(), n, seed + 2, schedule(confidence, TEN_REVIEWS))
    yield f"A/A, 10 reviews per visitor, daily looks, new rule: any verdict {_pct(_decided(daily_ten))}"

    planned = run(
        confidence, UNCLUSTERED, Canary(correction_change=0.1), n, seed + 3,
        _assigned_for_canary_reviews(UNCLUSTERED, old_per_arm),
    )  # fmt: skip
    sums = (planned.stable.sums, planned.canary.sums)
    old_promoted = old_rules.promoted(sums[0][..., 2], sums[0][..., 1], sums[1][..., 2], sums[1][..., 1])[:, 0]
    z_alone = _old_primary(planned)
    yield (
        f"A/B at a true lift of 1.10, old planned sample, one review per visitor: old promote rule {_pct(old_promoted)}"
        f" (z-test alone {_pct((z_alone[0][:, 0] > 0) & (z_alone[1][:, 0] < 0.05))})"
    )
    daily = schedule(confidence, Population())
    ab = run(confidence, Population(), Canary(correction_change=0.1), n, seed + 4, daily)
    yield f"A/B at the planned effect, daily looks, new rule: promoted by the planned sample {_rate(ab, PROMOTE)}"

    aa = run(confidence, Population(), Canary(), n, seed + 5, daily)
    yield (
        f"A/A, {len(daily)} looks (4 on the first day, then daily), 3 reviews per visitor, new rule: any verdict "
        f"{_pct(_decided(aa))} (promote {aa.rate(Verdict.PROMOTE):.2%}, roll back {aa.rate(Verdict.ROLL_BACK):.2%}); "
        f"sample-ratio mismatch flagged {_pct(np.any(aa.decision.mismatch, 1))}"
    )

    yield _latency_at_200(confidence, n, np.random.default_rng(seed + 6))

    worse_model_old = run(
        model, UNCLUSTERED, Canary(correction_change=0.1), n, seed + 7,
        _assigned_for_canary_reviews(UNCLUSTERED, old_per_arm),
    )  # fmt: skip
    sums = (worse_model_old.stable.sums, worse_model_old.canary.sums)
    promoted = old_rules.promoted(sums[0][..., 2], sums[0][..., 1], sums[1][..., 2], sums[1][..., 1])[:, 0]
    model_daily = schedule(model, Population())
    worse_model = run(model, Population(), Canary(correction_change=0.1), n, seed + 8, model_daily)
    yield (
        f"a model 10% worse (10% more corrections): old rule promotes it {_pct(promoted)}; new rule, model-version "
        f"declaration (lower is better): rolled back {_rate(worse_model, ROLL_BACK)}, "
        f"promoted {_rate(worse_model, PROMOTE)}"
    )
    for change in (0.15, -0.10):
        other = run(model, Population(), Canary(correction_change=change), n, seed + 12, model_daily)
        yield (
            f"a model with {abs(change):.0%} {'more' if change > 0 else 'fewer'} corrections, new rule: rolled back "
            f"{_rate(other, ROLL_BACK)}, promoted {_rate(other, PROMOTE)}"
        )
    for change in (-0.10, -0.15):
        worse = run(confidence, Population(), Canary(correction_change=change), n, seed + 9, daily)
        yield (
            f"a canary {-change:.0%} worse on the primary (confidence display): rolled back "
            f"{worse.rate(Verdict.ROLL_BACK):.1%}, promoted {worse.rate(Verdict.PROMOTE):.1%}"
        )
    for label, canary in _broken_guardrails(confidence, Population()):
        broken = run(confidence, Population(), canary, n, seed + 10, daily)
        yield (
            f"{label}, primary better by the planned effect: rolled back {broken.rate(Verdict.ROLL_BACK):.1%}, "
            f"promoted {broken.rate(Verdict.PROMOTE):.1%}"
        )

    lost = run(confidence, Population(), Canary(assignment_loss=0.3), n, seed + 11, daily)
    yield (
        f"the canary loses 30% of its assignments: old rules have no check; new rule: mismatch flagged by 4,000 "
        f"assigned visitors {_pct(lost.mismatch_by(4000))}, and with every verdict withheld "
        f"{_pct(lost.mismatch_by(4000) & lost.never_decided())}"
    )


def _broken_guardrails(declaration: Declaration, population: Population):
    """A canary 1.5 and 2 times beyond each guardrail's margin (the latency slowed until its tail share says so)."""
    latency_margin = declaration.guardrails.prediction_latency.margin
    error_margin = declaration.guardrails.error_ratio.margin
    for times in (1.5, 2.0):
        factor = slowdown_for_tail_increase(population, times * latency_margin)
        yield (
            f"predictions {factor - 1:.1%} slower ({times:g} x the latency margin)",
            Canary(correction_change=0.1, latency_factor=factor),
        )
        yield f"errors {times:g} x the error margin", Canary(correction_change=0.1, error_increase=times * error_margin)


def slowdown_for_tail_increase(population: Population, increase: float) -> float:
    """The factor that puts `increase` more of the predictions above the stable's p95 bucket bound."""
    sigma, median = latency_sigma(population), population.latency_median
    bounds = np.asarray(population.latency_buckets)
    bound = bounds[np.argmax(norm.cdf(np.log(bounds / median) / sigma) >= 0.95)]
    above = norm.sf(np.log(bound / median) / sigma) + increase
    return float(bound / median / math.exp(norm.isf(above) * sigma))


def _latency_at_200(declaration: Declaration, n: int, rng: np.random.Generator) -> str:
    """An identical canary's 200 predictions against the stable's 1,800, one look, all 80 app-service buckets."""
    population = replace(Population(), latency_buckets=APP_SERVICE_BUCKETS)
    sigma = latency_sigma(population)
    arms = {}
    for name, count in (("stable", 1800), ("canary", 200)):
        seconds = population.latency_median * np.exp(sigma * rng.standard_normal((n, count)))
        below = np.stack([(seconds <= bound).sum(axis=1) for bound in APP_SERVICE_BUCKETS], axis=1)
        arms[name] = (Histogram(APP_SERVICE_BUCKETS, below), seconds.mean(axis=1))
    (stable, stable_mean), (canary, canary_mean) = arms["stable"], arms["canary"]
    old = old_rules.rolled_back_on_latency(
        APP_SERVICE_BUCKETS, stable.cumulative, canary.cumulative, stable_mean, canary_mean
    )
    tails = tail_shares(stable, canary)
    margin = declaration.guardrails.prediction_latency.margin
    test = guardrail_test(declaration, "prediction_latency", margin, tails.stable, tails.canary)
    return (
        f"an identical canary, 200 predictions, one look: old latency guardrail rolls back {_pct(old)}; "
        f"new (share above the stable's p95 bucket, margin {margin:.0%}) {_pct(test.beyond)}"
    )


def _old_primary(outcome: Outcome):
    stable, canary = outcome.stable.sums, outcome.canary.sums
    return old_rules.z_test(stable[..., 2], stable[..., 1], canary[..., 2], canary[..., 1])


def _assigned_for_canary_reviews(population: Population, reviews: int, canary_share: float = 0.10) -> np.ndarray:
    """One look, with enough assigned visitors for the 10% canary to hold about `reviews` reviews."""
    per_assignment = Kinds.of(population, population.correction_rate).reviews_per_assignment()
    return np.array([round(reviews / canary_share / per_assignment)])


def _decided(outcome: Outcome) -> np.ndarray:
    return np.isin(outcome.first_verdict(), [Verdict.PROMOTE, Verdict.ROLL_BACK])


def _rate(outcome: Outcome, verdict: Verdict) -> str:
    return f"{outcome.rate(verdict):.1%}"


def _pct(flags: np.ndarray) -> str:
    return f"{np.mean(flags):.1%}"


if __name__ == "__main__":
    raise SystemExit(main())
