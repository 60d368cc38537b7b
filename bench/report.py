"""The benchmark's results: a table for people, bench/results.json for tools and the docs."""

import json
from pathlib import Path

from bench.figures import GOALS, Figures, Goal

SECTIONS = (
    ("in process, one review", ("sklearn_single", "served_single")),
    ("in process, a batch of 1,000 reviews", ("sklearn_batch", "served_batch")),
    (
        "HTTP (wrk, closed loop)",
        ("predict_c1", "predict_c8", "full_c1", "full_c8", "full_pg_c1", "full_pg_c8", "page_c1", "page_c8"),
    ),
    (
        "CPU time per request at concurrency 8, by process; what 2 cores could carry at that cost, and the share of it"
        " reached",
        (
            "cpu_predict_model-service/stable",
            "cpu_predict_wrk",
            "cpu_predict_total",
            "capacity_predict",
            "reached_predict",
            "cpu_full_model-service/stable",
            "cpu_full_app-service/stable",
            "cpu_full_envoy",
            "cpu_full_wrk",
            "cpu_full_total",
            "capacity_full",
            "reached_full",
            "cpu_full_pg_model-service/stable",
            "cpu_full_pg_app-service/stable",
            "cpu_full_pg_app-service/stable/2",
            "cpu_full_pg_envoy",
            "cpu_full_pg_postgres",
            "cpu_full_pg_wrk",
            "cpu_full_pg_total",
            "capacity_full_pg",
            "reached_full_pg",
            "cpu_page_app-frontend/stable",
            "cpu_page_envoy",
            "cpu_page_wrk",
            "cpu_page_total",
            "capacity_page",
            "reached_page",
        ),
    ),
    (
        "start-up to /readyz 200, model cached",
        (
            "startup_model-service",
            "startup_app-service",
            "startup_app-frontend",
            "startup_cpu_model-service",
            "startup_cpu_app-service",
            "startup_cpu_app-frontend",
        ),
    ),
    ("peak RSS under load", ("rss_model-service", "rss_app-service", "rss_app-frontend", "rss_envoy")),
)
# The columns of an HTTP load, each a figure key suffix.
LOAD_COLUMNS = (("_p50", "p50 ms"), ("_p99", "p99 ms"), ("_rate", "req/s"), ("_errors", "errors"), ("_tail", "p99/p50"),
                ("_ratio", "p50/sklearn"), ("_compiled_ratio", "p50/served"))  # fmt: skip


def spread(figures: Figures, key: str) -> str:
    figure = figures[key]
    digits = 0 if figure.median >= 100 else 2 if figure.median < 10 else 1
    low, high = min(figure.runs), max(figure.runs)
    if low == high:
        return f"{figure.median:,.{digits}f}"
    return f"{figure.median:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def table(figures: Figures, header: list[str]) -> str:
    lines = [*header, ""]
    for title, keys in SECTIONS:
        present = [key for key in keys if key in figures or f"{key}_p50" in figures]
        if not present:
            continue
        lines.append(title)
        for key in present:
            if f"{key}_p50" in figures:
                lines.append(f"  {figures[key + '_p50'].label}")
                cells = [f"{name} {spread(figures, key + suffix)}" for suffix, name in LOAD_COLUMNS
                         if key + suffix in figures]  # fmt: skip
                lines.append("      " + ", ".join(cells))
            else:
                lines.append(f"  {figures[key].label:52} {spread(figures, key)} {figures[key].unit}")
        lines.append("")
    lines.append("goals (median of the runs; errors: every run)")
    for goal in GOALS:
        mark = "met    " if goal.met(figures) else "NOT MET"
        lines.append(f"  {mark} {goal.text}: {goal.value(figures):,.2f}")
    return "\n".join(lines)


def write_json(path: Path, figures: Figures, context: dict) -> None:
    results = {
        **context,
        "figures": {key: figure.as_json() for key, figure in figures.items()},
        "goals": [_goal_json(goal, figures) for goal in GOALS],
    }
    path.write_text(json.dumps(results, indent=2) + "\n")


def _goal_json(goal: Goal, figures: Figures) -> dict:
    return {"goal": goal.text, "figure": goal.key, "value": goal.value(figures), "limit": goal.limit,
            "met": goal.met(figures)}  # fmt: skip
