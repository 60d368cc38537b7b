"""The plan of an experiment: the alpha each test spends, the sequential tests' tuning, the planned sample.

Every test of the rule is a normal-mixture confidence sequence (sequential.py).
Its width at a look, in standard errors, is smallest at the look it is tuned
for; tuning each test for the sample at which its effect of interest (the
primary's minimal effect, a guardrail's margin) is detected with the declared
power makes that width a constant of alpha alone, `boundary_in_standard_errors`,
and the planned sample a closed form.
"""

import math
from dataclasses import dataclass

from scipy.stats import norm

# The primary metric's two-sided test spends 90% of alpha; the guardrails' roll-back
# tests ("significantly beyond the margin") share the other 10%. A verdict on an A/A
# experiment is one of those errors, so its rate over all looks stays below alpha.
PRIMARY_SHARE_OF_ALPHA = 0.9


@dataclass(frozen=True)
class Levels:
    """The error rate each test may spend, over all looks."""

    primary: float  # two-sided: significantly better (promote) or significantly worse (roll back)
    inferiority: float  # one-sided, per guardrail: significantly beyond its margin (roll back)
    non_inferiority: float  # one-sided, per guardrail: significantly within its margin (needed to promote)


def levels(alpha: float, guardrails: int) -> Levels:
    """Split alpha so that the rate of any verdict on an A/A experiment is at most alpha.

    On an A/A experiment, a promotion needs the primary significantly better and
    a roll-back the primary significantly worse or a guardrail significantly
    beyond its margin: at most `primary + guardrails * inferiority` = alpha.
    Non-inferiority is never a verdict alone (promotion needs the primary too,
    an intersection-union test), so it does not spend the A/A budget; alpha / 2
    is the chance to promote a canary whose guardrail is exactly at its margin.
    """
    if guardrails == 0:
        return Levels(primary=alpha, inferiority=0.0, non_inferiority=alpha / 2)
    return Levels(
        primary=PRIMARY_SHARE_OF_ALPHA * alpha,
        inferiority=(1 - PRIMARY_SHARE_OF_ALPHA) * alpha / guardrails,
        non_inferiority=alpha / 2,
    )


def tuned_ratio(alpha: float) -> float:
    """tau^2/V at the look a two-sided alpha-level normal mixture is tuned for (Howard et al. 2021).

    Their rho = v_opt / (2 log(1/alpha) + log(1 + 2 log(1/alpha))) (confseq's
    `TwoSidedNormalMixture::best_rho`) nearly minimises the boundary at
    intrinsic time v_opt; in the scale of the estimate (v = 1/V, rho = 1/tau^2)
    the mixing variance tau^2 is this ratio times the estimate's variance there.
    """
    log_odds = 2 * math.log(1 / alpha)
    return log_odds + math.log(1 + log_odds)


def boundary_in_standard_errors(alpha: float) -> float:
    """Half-width of the alpha-level confidence sequence, in standard errors, at the look it is tuned for."""
    ratio = tuned_ratio(alpha)
    return math.sqrt((1 + ratio) / ratio * (math.log(1 + ratio) + 2 * math.log(1 / alpha)))


def mixing_variance(effect: float, alpha: float, power: float) -> float:
    """tau^2 of the normal mixture that detects `effect` with `power` soonest (see the module's docstring).

    The test is tuned for the look at which the effect is `boundary + z_power`
    standard errors away, where the final look alone has the declared power.
    """
    standard_error = abs(effect) / (boundary_in_standard_errors(alpha) + norm.ppf(power))
    return tuned_ratio(alpha) * standard_error**2


def planned_reviews(
    baseline: float, minimal_effect: float, canary_share: float, design_effect: float, alpha: float, power: float
) -> int:
    """Reviews, both arms together, for the primary's sequential test to detect the minimal effect with `power`.

    `baseline` is the stable's correction rate and `minimal_effect` the
    smallest difference of rates worth detecting, in either direction: better
    (to promote) or worse (to roll back); the plan takes the direction whose
    rate has the larger variance. `design_effect` is the visitor-level
    variance of the rate over the per-review binomial one (1 + rho (E[M^2]/E[M]
    - 1) for reviews per visitor M and intra-visitor correlation rho). The arms
    get `1 - canary_share` and `canary_share` of the reviews: the variance of
    the difference is design_effect * (p0 (1 - p0) / (1 - s) + p1 (1 - p1) / s) / N,
    and N is the sample at which the effect is boundary + z_power standard
    errors away. Crossing the boundary at an earlier look only adds power, so
    the plan is conservative.
    """
    effect = abs(minimal_effect)
    if not 0 < baseline - effect < baseline + effect < 1 or effect == 0:
        raise ValueError(f"a baseline of {baseline} and an effect of {effect} are not rates in (0, 1)")
    canary_variance = max(rate * (1 - rate) for rate in (baseline - effect, baseline + effect))
    per_review = baseline * (1 - baseline) / (1 - canary_share) + canary_variance / canary_share
    distance = boundary_in_standard_errors(alpha) + norm.ppf(power)
    return math.ceil(design_effect * per_review * distance**2 / effect**2)
