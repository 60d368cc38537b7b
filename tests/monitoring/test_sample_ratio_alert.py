"""ExperimentSampleRatioMismatch's threshold and minimum, proven by seeded simulation of the rule as written.

The rule computes Pearson's chi-square of the arms' new visitors over a sliding
day against the declared share, at every evaluation, and fires past a threshold
once the day holds a minimum of visitors. Read that often, a p < 0.001 threshold
pages about an identical canary in a quarter to a third of its months (printed below); the
simulation holds the rule's own threshold to far fewer, and to paging about a
canary that loses 30% of its new visitors within a day or two. New visitors
arrive as a Poisson stream, each assigned to the canary with the declared share
(the VirtualService's coin), counted per minute and evaluated every minute (the
cluster evaluates every 30 s: the same rates within the simulation's error).
Every bound is checked with the simulation's own uncertainty: the exact binomial
95% interval of the rate must lie on the right side of the requirement.
"""

import re
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import binom, binomtest, chi2
from sentiment_devtools.stack.monitoring.config import rule_groups

MINUTES_PER_DAY = 1440
MONTH_DAYS = 30
# p < 0.001 at one look: the threshold a fixed-horizon test would use, for comparison only.
ONE_LOOK_THRESHOLD = 10.83


@dataclass(frozen=True)
class Rule:
    declared_share: float
    window_minutes: int
    threshold: float
    minimum: int


@pytest.fixture(scope="module")
def rule(documents) -> Rule:
    """The rule's figures as k8s/ writes them, so that the simulation is of the rule that runs."""
    rules = {r.get("record") or r["alert"]: r for group in rule_groups(documents)["groups"] for r in group["rules"]}
    alert = rules["ExperimentSampleRatioMismatch"]
    assert "for" not in alert, "the simulation evaluates the condition alone"
    [share] = re.findall(
        r"^vector\(([\d.]+)\)$", rules["experiment:experiment_assignments_canary:share_declared"]["expr"]
    )
    [days] = re.findall(r"\[(\d+)d\]", rules["namespace_job_version:experiment_assignments:increase1d"]["expr"])
    [threshold] = re.findall(r"srm_chi_square1d > ([\d.]+)", alert["expr"])
    [minimum] = re.findall(r"increase1d >= (\d+)", alert["expr"])
    return Rule(float(share), int(days) * MINUTES_PER_DAY, float(threshold), int(minimum))


def first_pages(
    rule: Rule,
    visitors_per_day: float,
    days: int,
    runs: int,
    seed: int,
    canary_kept: float = 1.0,
    threshold: float | None = None,
) -> np.ndarray:
    """The minute each simulated experiment first pages, -1 when it never does. The canary is counted for
    `canary_kept` of the new visitors the split sends it (the others fail, and are not counted)."""  # fmt: skip
    rng = np.random.default_rng(seed)
    threshold = rule.threshold if threshold is None else threshold
    share = rule.declared_share
    minutes = days * MINUTES_PER_DAY
    now = np.arange(1, minutes + 1)
    since = np.maximum(now - rule.window_minutes, 0)
    pages = np.full(runs, -1)
    for run in range(runs):
        arrived = rng.poisson(visitors_per_day / MINUTES_PER_DAY, minutes)
        split_to_canary = rng.binomial(arrived, share)
        canary = np.concatenate([[0], np.cumsum(rng.binomial(split_to_canary, canary_kept))])
        counted = np.concatenate([[0], np.cumsum(arrived - split_to_canary)]) + canary
        n, c = counted[now] - counted[since], canary[now] - canary[since]
        with np.errstate(invalid="ignore", divide="ignore"):
            # The rule's n (c / n - share)^2 / (share (1 - share))
            chi_square = (c - share * n) ** 2 / (n * share * (1 - share))
        fired = np.flatnonzero((chi_square > threshold) & (n >= rule.minimum))
        if fired.size:
            pages[run] = fired[0]
    return pages


def interval(flags: np.ndarray) -> tuple[float, float]:
    result = binomtest(int(np.sum(flags)), len(flags)).proportion_ci(confidence_level=0.95, method="exact")
    return result.low, result.high


@pytest.mark.parametrize(("visitors_per_day", "seed"), [(1_000, 1), (3_000, 2), (10_000, 3)])
def test_given_an_identical_canary_then_a_month_pages_in_at_most_3_percent(rule, visitors_per_day, seed):
    pages = first_pages(rule, visitors_per_day, MONTH_DAYS, runs=500, seed=seed)
    at_one_look_threshold = first_pages(rule, visitors_per_day, MONTH_DAYS, 100, seed, threshold=ONE_LOOK_THRESHOLD)

    paged = pages >= 0
    _, high = interval(paged)
    print(
        f"\n{visitors_per_day} new visitors a day, identical canary, 30 days: paged in {np.mean(paged):.1%} "
        f"(chi-square > {rule.threshold}); {np.mean(at_one_look_threshold >= 0):.0%} at > {ONE_LOOK_THRESHOLD}"
    )
    assert high <= 0.03, f"paged in {np.mean(paged):.1%} of months"


@pytest.mark.parametrize(
    ("visitors_per_day", "within_hours", "required", "seed"), [(3_000, 48, 0.90, 4), (10_000, 12, 0.95, 5)]
)
def test_given_a_canary_that_loses_30_percent_of_its_visitors_then_it_pages_within_a_day_or_two(
    rule, visitors_per_day, within_hours, required, seed
):
    pages = first_pages(rule, visitors_per_day, days=3, runs=400, seed=seed, canary_kept=0.7)

    in_time = (pages >= 0) & (pages < within_hours * 60)
    low, _ = interval(in_time)
    print(
        f"\n{visitors_per_day} new visitors a day, canary losing 30%: paged within {within_hours} h in "
        f"{np.mean(in_time):.1%}, after {np.median(pages[pages >= 0]) / 60:.1f} h at the median"
    )
    assert low >= required, f"paged within {within_hours} h in {np.mean(in_time):.1%}"


def test_given_a_canary_that_gets_no_visitor_then_it_pages_once_the_minimum_is_counted(rule):
    # 3,000 a day: the minimum of 500 new visitors (all on the stable) is reached in about four hours
    pages = first_pages(rule, 3_000, days=1, runs=100, seed=6, canary_kept=0.0)

    assert np.all((pages >= 0) & (pages < 5 * 60)), f"first pages after {np.sort(pages)[-5:]} minutes"


def test_from_the_minimum_on_the_chi_square_fires_about_as_rarely_as_its_p_value_says(rule):
    """Exact binomial tails of one look: below the minimum a 10% share's skew makes the chi-square cross its
    threshold several times as often as p says, from the minimum on about as often."""
    nominal = chi2.sf(rule.threshold, df=1)

    def inflation(visitors: int) -> float:
        canary = np.arange(visitors + 1)
        share = rule.declared_share
        chi_square = (canary - share * visitors) ** 2 / (visitors * share * (1 - share))
        return binom.pmf(canary[chi_square > rule.threshold], visitors, share).sum() / nominal

    inflations = {visitors: inflation(visitors) for visitors in (50, 200, rule.minimum, 1_000)}
    print("\nP(chi-square > threshold) / p, by new visitors:", {n: round(float(x), 1) for n, x in inflations.items()})
    assert inflations[50] > 5
    assert inflations[rule.minimum] < 2.5
