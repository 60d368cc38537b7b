"""The report as a PNG: each arm's correction rate, and every test's always-valid confidence sequence."""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt

from sentiment_devtools.experiment.decision import Verdict
from sentiment_devtools.experiment.report import Report

COLOURS = {"stable": "#4c72b0", "canary": "#dd8452"}
VERDICT_COLOURS = {
    Verdict.PROMOTE: "#2e7d32",
    Verdict.ROLL_BACK: "#c62828",
    Verdict.CONTINUE: "#616161",
    Verdict.INCONCLUSIVE: "#f9a825",
    Verdict.WITHHELD: "#6a1b9a",
}


def draw(report: Report, path: Path) -> Path:
    figure = plt.figure(figsize=(12, 4.6), layout="constrained")
    rates, tests = figure.subfigures(1, 2, width_ratios=(1, 1.6))
    _rates(report, rates.subplots())
    _tests(report, tests)
    figure.suptitle(
        f"{report.declaration.id}: {report.verdict.label.upper()}  -  {report.reasons[0] if report.reasons else ''}",
        color=VERDICT_COLOURS[report.verdict],
        fontsize=10,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _rates(report: Report, axes) -> None:
    arms = (report.stable, report.canary)
    values, errors = [], []
    for arm in arms:
        if arm.visitors is None:
            values.append(100 * arm.corrections / arm.reviews if arm.reviews else 0.0)
            errors.append(0.0)
            continue
        sums = arm.visitors.correction_rate()
        rate, variance = float(sums.ratio()), float(sums.variance())
        values.append(0.0 if math.isnan(rate) else 100 * rate)
        errors.append(100 * 1.96 * math.sqrt(variance) if math.isfinite(variance) else 0.0)
    versions = [arm.version for arm in arms]
    axes.bar(versions, values, yerr=errors, capsize=8, color=[COLOURS[v] for v in versions])
    axes.set_title("Correction rate, visitor-level 95% CI at this look", fontsize=10)
    axes.set_ylabel("% of reviews corrected")
    for index, arm in enumerate(arms):
        axes.annotate(f"{arm.corrections}/{arm.reviews}", (index, 0), ha="center", va="bottom", color="white")


def _tests(report: Report, subfigure) -> None:
    decision = report.decision
    if decision is None:
        axes = subfigure.subplots()
        axes.axis("off")
        axes.text(0.5, 0.5, "\n".join(report.reasons), ha="center", va="center", wrap=True)
        return
    declaration = report.declaration
    rows = [
        (
            "correction rate (primary; the minimal effect dashed)",
            float(decision.primary.estimate),
            float(decision.primary.low),
            float(decision.primary.high),
            (0.0, declaration.effect),
        ),
        *(
            (_label(test.name), float(test.estimate), float(test.lower), float(test.upper), (0.0, test.margin))
            for test in decision.guardrails
        ),
    ]
    subfigure.suptitle("Canary minus stable, always-valid confidence sequences (points)", fontsize=10)
    for axes, (label, estimate, low, high, marks) in zip(subfigure.subplots(len(rows), 1), rows, strict=True):
        low, high = (value if math.isfinite(value) else estimate for value in (low, high))  # no data: no interval
        axes.errorbar([100 * estimate], [0], xerr=[[100 * (estimate - low)], [100 * (high - estimate)]], fmt="o",
                      capsize=6, color="black")  # fmt: skip
        for mark, style in zip(marks, ("-", "--"), strict=True):
            axes.axvline(100 * mark, color="grey", linestyle=style)
        span = [100 * value for value in (low, high, *marks)]
        axes.set_xlim(min(span) - 0.5, max(span) + 0.5)
        axes.set_yticks([])
        axes.set_title(label, fontsize=9, loc="left")


def _label(guardrail: str) -> str:
    return {
        "prediction_latency": "predictions slower than the stable's p95 (margin dashed)",
        "error_ratio": "error ratio (margin dashed)",
    }[guardrail]
