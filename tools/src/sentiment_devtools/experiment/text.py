"""The report as text, for a terminal or a pull request."""

import math

import numpy as np
from scipy.stats import norm

from sentiment_devtools.experiment import srm
from sentiment_devtools.experiment.prometheus import Observation
from sentiment_devtools.experiment.report import RULE, Report
from sentiment_devtools.experiment.visitors import RatioSums


def render(report: Report, source: str) -> str:
    declaration = report.declaration
    lines = [
        f"Sentiment Canary experiment {declaration.id}: {source}, since {declaration.start:%Y-%m-%d %H:%M %Z}",
        f"  hypothesis: {declaration.hypothesis}",
        "",
        "  The rule:",
        *(f"    {number}. {rule}" for number, rule in enumerate(RULE, start=1)),
        "",
        *_sample_ratio(report),
        "",
        *_table(report),
        "",
        *_primary(report),
        *_guardrails(report),
        "",
        f"  Decision: {report.verdict.label.upper()}",
        *(f"    - {reason}" for reason in report.reasons),
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _sample_ratio(report: Report) -> list[str]:
    stable, canary, decision = report.stable.assignments, report.canary.assignments, report.decision
    if decision is None or stable is None or canary is None:
        return ["  Sample ratio: not checked, no assignment counts"]
    total = stable + canary
    share = f"{canary / total:.1%}" if total else "-"
    verdict = "MISMATCH: every verdict withheld" if bool(decision.mismatch) else "no mismatch"
    return [
        f"  Sample ratio, checked first: assigned visitors stable {stable}, canary {canary} ({share}, declared "
        f"{report.declaration.split.canary:.0%}): {verdict}",
        f"    sequential p = {float(decision.srm_p_value):.3g} (Lindon & Malek's Dirichlet-multinomial test, valid at "
        f"every look; a mismatch below {srm.ALPHA})",
        f"    chi-square p = {float(decision.chi_square_p_value):.3g} (valid at one look only; the alert's test)",
    ]


def _table(report: Report) -> list[str]:
    stable, canary, decision = report.stable, report.canary, report.decision
    bound = "-" if decision is None else _ms(float(decision.latency_bound))
    tail = {"stable": "-", "canary": "-"}
    if decision is not None:
        latency = next(test for test in decision.guardrails if test.name == "prediction_latency")
        tail = {"stable": _share(latency.stable_share), "canary": _share(latency.canary_share)}
    rows = [
        ("", stable.version, canary.version),
        ("visitors with a review", *(_visitors(arm, lambda v: f"{v.visitors}") for arm in (stable, canary))),
        ("reviews", f"{stable.reviews}", f"{canary.reviews}"),
        ("reviews per visitor", *(_visitors(arm, lambda v: _ratio(v.reviews, v.visitors)) for arm in (stable, canary))),
        ("corrections", f"{stable.corrections}", f"{canary.corrections}"),
        ("correction rate [95% CI]", _rate(stable), _rate(canary)),
        ("feedback rate", *(_visitors(arm, lambda v: _interval(v.feedback_rate())) for arm in (stable, canary))),
        ("corrected share of feedback",
         *(_visitors(arm, lambda v: _interval(v.corrected_share())) for arm in (stable, canary))),
        ("design effect", *(_visitors(arm, lambda v: _effect(v.correction_rate())) for arm in (stable, canary))),
        ("predictions timed", f"{int(stable.latency.total)}", f"{int(canary.latency.total)}"),
        ("mean latency", _ms(stable.latency_mean), _ms(canary.latency_mean)),
        (f"slower than {bound}", tail["stable"], tail["canary"]),
        ("error ratio", _errors(stable), _errors(canary)),
    ]  # fmt: skip
    notes = [
        "  (per visitor: the intervals are the delta method's at this one look; the design effect is the",
        "  visitor-level variance over the per-review one, declared "
        f"{report.declaration.baseline.design_effect:g}; {bound} is the stable's p95 bucket bound)",
    ]
    return [f"  {label:<30}{left:<26}{right}" for label, left, right in rows] + notes


def _primary(report: Report) -> list[str]:
    declaration, decision = report.declaration, report.decision
    planned = declaration.planned_reviews_per_arm
    reached = min(report.stable.reviews / planned["stable"], report.canary.reviews / planned["canary"])
    plan = (
        f"    planned sample: {planned['stable']} stable + {planned['canary']} canary reviews "
        f"({declaration.split.canary:.0%} canary, design effect {declaration.baseline.design_effect:g}, "
        f"power {declaration.power:g} for the sequential test; the plan needs {declaration.required_reviews}): "
        f"{reached:.0%} reached"
    )
    heading = (
        f"  Correction rate, canary minus stable ({declaration.primary.direction.value} is better, minimal effect "
        f"{_points(declaration.effect, signed=False)}):"
    )
    if decision is None:
        return [heading, "    not tested: no visitor-level sums", plan]
    primary, level = decision.primary, declaration.levels.primary
    estimate, variance = float(primary.estimate), float(primary.variance)
    z = estimate / math.sqrt(variance) if 0 < variance < math.inf else 0.0
    half = norm.ppf(1 - declaration.alpha / 2) * math.sqrt(variance)
    return [
        f"{heading} {_points(estimate)}",
        f"    always valid, at any look: p = {float(primary.p_value):.3g}, {1 - level:.1%} confidence sequence "
        f"[{_points(float(primary.low))}, {_points(float(primary.high))}] (normal-mixture SPRT, "
        f"tau = {_points(math.sqrt(declaration.primary_mixing_variance), signed=False)}, fixed by the plan)",
        f"    fixed horizon, valid ONCE, at the planned sample only: z = {z:.2f}, p = {2 * norm.sf(abs(z)):.3g}, "
        f"{1 - declaration.alpha:.0%} CI [{_points(estimate - half)}, {_points(estimate + half)}]",
        plan,
    ]


def _guardrails(report: Report) -> list[str]:
    decision, declaration = report.decision, report.declaration
    if decision is None:
        return []
    lines = ["  Guardrails, canary minus stable (positive is worse), always valid:"]
    for test in decision.guardrails:
        if bool(test.beyond):
            state = f"WORSE than the margin (lower bound {_points(float(test.lower))})"
        elif bool(test.within):
            state = f"within the margin (upper bound {_points(float(test.upper))})"
        else:
            state = f"not yet shown within the margin (upper bound {_points(float(test.upper))})"
        margin = _points(test.margin, signed=False)
        lines.append(f"    {_label(test.name)}: {_points(float(test.estimate))}, margin {margin}: {state}")
    lines.append(
        f"    (bounds: {1 - declaration.levels.non_inferiority:.1%} upper, "
        f"{1 - declaration.levels.inferiority:.2%} lower, Agresti-Caffo differences of proportions)"
    )
    return lines


def _visitors(arm: Observation, format_sums) -> str:
    return "-" if arm.visitors is None else format_sums(arm.visitors)


def _rate(arm: Observation) -> str:
    if arm.visitors is None:
        return _ratio(arm.corrections, arm.reviews, percent=True)
    return _interval(arm.visitors.correction_rate())


def _interval(sums: RatioSums) -> str:
    rate, variance = float(sums.ratio()), float(sums.variance())
    if math.isnan(rate):
        return "-"
    if not math.isfinite(variance):
        return f"{rate:.1%}"
    half = 1.96 * math.sqrt(variance)
    return f"{rate:.1%} [{max(0.0, rate - half):.1%}, {min(1.0, rate + half):.1%}]"


def _effect(sums: RatioSums) -> str:
    value = float(sums.design_effect())
    return f"{value:.2f}" if np.isfinite(value) else "-"


def _ratio(numerator: int, denominator: int, percent: bool = False) -> str:
    if not denominator:
        return "-"
    return f"{numerator / denominator:.1%}" if percent else f"{numerator / denominator:.2f}"


def _share(value) -> str:
    return "-" if np.isnan(value) else f"{float(value):.2%}"


def _points(value: float, signed: bool = True) -> str:
    return f"{value * 100:+.2f} points" if signed else f"{abs(value) * 100:.2f} points"


def _ms(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    return f"{seconds * 1000:.2f} ms"


def _errors(arm: Observation) -> str:
    errors, requests = int(arm.errors.events), int(arm.errors.trials)
    return f"{errors / requests:.2%} ({errors} of {requests})" if requests else "-"


def _label(guardrail: str) -> str:
    return {"prediction_latency": "predictions slower than the stable's p95", "error_ratio": "error ratio"}[guardrail]
