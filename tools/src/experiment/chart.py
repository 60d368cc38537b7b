"""The report as a PNG: the primary metric with its confidence intervals, the guardrails, the decision."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt

from experiment.decision import Analysis, Verdict

COLOURS = {"stable": "#4c72b0", "canary": "#dd8452"}
VERDICT_COLOURS = {
    Verdict.PROMOTE: "#2e7d32",
    Verdict.NEEDS_REVIEW: "#f9a825",
    Verdict.ROLL_BACK: "#c62828",
    Verdict.NOT_ENOUGH_DATA: "#616161",
}


def draw(analysis: Analysis, path: Path) -> Path:
    arms = (analysis.stable, analysis.canary)
    versions = [arm.version for arm in arms]
    colours = [COLOURS.get(version, "grey") for version in versions]
    figure, (rates, latency, errors) = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")

    values = [(arm.correction_rate or 0.0) * 100 for arm in arms]
    intervals = (analysis.stable_interval, analysis.canary_interval)
    below = [value - interval.low * 100 for value, interval in zip(values, intervals, strict=True)]
    above = [interval.high * 100 - value for value, interval in zip(values, intervals, strict=True)]
    rates.bar(versions, values, color=colours, yerr=[below, above], capsize=8)
    rates.set_title("Correction rate, 95% CI (primary)")
    rates.set_ylabel("% of reviews corrected")
    for index, arm in enumerate(arms):
        rates.annotate(f"{arm.corrections}/{arm.reviews}", (index, 0), ha="center", va="bottom", color="white")

    width = 0.38
    for offset, arm in ((-width / 2, arms[0]), (width / 2, arms[1])):
        latencies = [(arm.latency_mean or 0.0) * 1000, (arm.latency_p95 or 0.0) * 1000]
        latency.bar(
            [index + offset for index in (0, 1)], latencies, width, label=arm.version, color=COLOURS.get(arm.version)
        )
    latency.set_xticks([0, 1], ["mean", "p95"])
    latency.set_title(f"Prediction latency (guardrail: canary <= {analysis.criteria.max_latency_ratio:.2f}x)")
    latency.set_ylabel("ms")
    latency.legend()

    errors.bar(versions, [arm.error_ratio * 100 for arm in arms], color=colours)
    errors.set_title("Error ratio (5xx)")
    errors.set_ylabel("% of served requests")

    verdict = analysis.verdict
    figure.suptitle(
        f"Sentiment Canary: {verdict.value.upper()}  -  {analysis.reasons[0] if analysis.reasons else ''}",
        color=VERDICT_COLOURS[verdict],
        fontsize=11,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
