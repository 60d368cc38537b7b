"""The report at one look: the decision of decision.py on what Prometheus holds, and the reasons for it in words."""

from dataclasses import dataclass

from sentiment_devtools.experiment import srm
from sentiment_devtools.experiment.decision import Arm, Decision, Verdict, decide
from sentiment_devtools.experiment.declaration import Declaration
from sentiment_devtools.experiment.prometheus import ASSIGNMENTS, VISITOR_SERIES, Observation

RULE = (
    "sample ratio first: a mismatch with the declared split withholds every verdict",
    "roll back when the correction rate is significantly worse in the declared direction, or a guardrail is "
    "significantly worse than the stable by more than its margin",
    "promote when the correction rate is significantly better in the declared direction and every guardrail is "
    "significantly within its margin",
    "otherwise continue until the planned sample; then inconclusive: no detectable effect",
    "significantly: the always-valid confidence sequence excludes the value, so any look may be acted on",
)


@dataclass(frozen=True)
class Report:
    declaration: Declaration
    stable: Observation
    canary: Observation
    decision: Decision | None  # None while a series the rule needs is not exported
    verdict: Verdict
    reasons: tuple[str, ...]


def analyse(declaration: Declaration, stable: Observation, canary: Observation) -> Report:
    missing = _missing(stable, canary)
    if missing:
        reason = f"the services do not export {', '.join(missing)} yet: no sample-ratio check and no visitor-level test"
        return Report(declaration, stable, canary, None, Verdict.WITHHELD, (reason,))
    decision = decide(declaration, _arm(stable), _arm(canary))
    verdict = Verdict(int(decision.verdict))
    reasons = _reasons(declaration, decision, verdict, stable, canary)
    return Report(declaration, stable, canary, decision, verdict, tuple(reasons))


def _missing(stable: Observation, canary: Observation) -> list[str]:
    missing = []
    if stable.assignments is None:
        missing.append(ASSIGNMENTS)
    if stable.visitors is None:
        missing.append("the per-visitor sums (" + ", ".join(sorted(set(VISITOR_SERIES.values()))) + ")")
    return missing


def _arm(observation: Observation) -> Arm:
    assert observation.assignments is not None
    assert observation.visitors is not None
    return Arm(
        assignments=observation.assignments,
        corrections=observation.visitors.correction_rate(),
        latency=observation.latency,
        errors=observation.errors,
    )


def _reasons(
    declaration: Declaration, decision: Decision, verdict: Verdict, stable: Observation, canary: Observation
) -> list[str]:
    primary = decision.primary
    direction = declaration.primary.direction.value
    significance = f"always-valid p = {float(primary.p_value):.3g}"
    if verdict is Verdict.WITHHELD:
        return [
            f"the assignments do not follow the declared {declaration.split.canary:.0%} canary share "
            f"(sequential p = {float(decision.srm_p_value):.3g} < {srm.ALPHA}): find out why before reading "
            "anything else (docs/runbooks.md)"
        ]
    reasons = []
    if bool(primary.worse):
        reasons.append(f"the correction rate is significantly worse: {direction} is better ({significance})")
    if bool(primary.better):
        reasons.append(f"the correction rate is significantly better: {direction} is better ({significance})")
    for test in decision.guardrails:
        if bool(test.beyond):
            reasons.append(
                f"{_name(test.name)} is significantly worse than its margin of {test.margin * 100:.2f} points"
            )
        elif not bool(test.within):
            reasons.append(f"{_name(test.name)} is not yet shown within its margin of {test.margin * 100:.2f} points")
    if verdict is Verdict.PROMOTE:
        reasons.append("every guardrail is significantly within its margin")
    if not bool(primary.better) and not bool(primary.worse):
        cs = f"[{float(primary.low) * 100:+.2f}, {float(primary.high) * 100:+.2f}] points"
        if verdict is Verdict.INCONCLUSIVE:
            reasons.insert(0, f"no detectable effect on the correction rate at the planned sample: it is within {cs}")
        else:
            reasons.insert(0, f"the correction rate is not significantly different yet ({significance}, within {cs})")
    if verdict is Verdict.CONTINUE:
        reasons.append(_still_needed(declaration, stable, canary))
    if verdict is Verdict.INCONCLUSIVE and bool(primary.better):
        reasons.append("the planned sample is reached: no promotion while a guardrail is not shown within its margin")
    return reasons


def _still_needed(declaration: Declaration, stable: Observation, canary: Observation) -> str:
    planned = declaration.planned_reviews_per_arm
    more = [
        f"{planned[arm.version] - arm.reviews} more {arm.version} reviews"
        for arm in (stable, canary)
        if arm.reviews < planned[arm.version]
    ]
    planned_sample = f"the planned sample ({planned['stable']} + {planned['canary']})"
    return f"{' and '.join(more) or 'no more reviews'} to {planned_sample}"


def _name(guardrail: str) -> str:
    return {"prediction_latency": "prediction latency", "error_ratio": "the error ratio"}[guardrail]
