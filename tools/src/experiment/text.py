"""The report as text, for a terminal or a pull request."""

from experiment.decision import Analysis, Arm
from experiment.statistics import Interval


def render(analysis: Analysis, source: str) -> str:
    stable, canary, criteria = analysis.stable, analysis.canary, analysis.criteria
    mean = _ms(canary.latency_mean) + _ratio(canary.latency_mean, stable.latency_mean)
    p95 = _ms(canary.latency_p95) + _ratio(canary.latency_p95, stable.latency_p95)
    rows = [
        ("", stable.version, canary.version),
        ("reviews submitted", f"{stable.reviews}", f"{canary.reviews}"),
        ("corrections", f"{stable.corrections}", f"{canary.corrections}"),
        (
            "correction rate [95% CI]",
            _rate(stable, analysis.stable_interval),
            _rate(canary, analysis.canary_interval),
        ),
        ("predictions timed", f"{stable.predictions}", f"{canary.predictions}"),
        ("mean latency", _ms(stable.latency_mean), mean),
        ("p95 latency", _ms(stable.latency_p95), p95),
        ("error ratio", _errors(stable), _errors(canary)),
    ]  # fmt: skip
    lines = [f"Sentiment Canary experiment: {source}", ""]
    lines += [f"  {label:<26}{left:<26}{right}".rstrip() for label, left, right in rows]
    lines.append("")
    if analysis.test is not None:
        test = analysis.test
        lift = f" ({analysis.lift:.2f}x)" if analysis.lift is not None else ""
        lines.append(
            f"  canary vs stable: {test.difference * 100:+.2f} points{lift}, z = {test.z:.2f}, "
            f"p = {test.p_value:.3g} (two-proportion z-test, two-sided)"
        )
    if analysis.reviews_planned is not None:
        lines.append(
            f"  planned sample: {analysis.reviews_planned} reviews per arm, to detect a {criteria.min_lift:.2f}x "
            f"correction rate (alpha {criteria.alpha:g}, power {criteria.power:g})"
        )
    lines += ["", f"  Decision: {analysis.verdict.value.upper()}"]
    lines += [f"    - {reason}" for reason in analysis.reasons]
    return "\n".join(lines) + "\n"


def _rate(arm: Arm, interval: Interval) -> str:
    if arm.correction_rate is None:
        return "-"
    return f"{arm.correction_rate:.1%} [{interval.low:.1%}, {interval.high:.1%}]"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f} ms"


def _ratio(canary: float | None, stable: float | None) -> str:
    return f" ({canary / stable:.2f}x)" if canary and stable else ""


def _errors(arm: Arm) -> str:
    return f"{arm.error_ratio:.2%} ({arm.errors} of {arm.requests})"
