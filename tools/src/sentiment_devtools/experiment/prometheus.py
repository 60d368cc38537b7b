"""Each arm's numbers since the experiment's start, from the Prometheus HTTP API.

Counts are `increase()` over the window from the declared start to the look,
rounded: Prometheus extrapolates a counter to the window's edges by at most one
scrape interval, and not below zero at its start (the services start every
counter at zero), so a count is exact when the window ends on a scrape and
close to it otherwise.

The assignments (`experiment_assignments_total`, the frontend's) and the
per-visitor sums (`VISITOR_SERIES`, the app-service's) are read when the
services export them; a series no version has is reported missing, never read
as zero.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from sentiment_devtools.experiment.guardrails import Counts, Histogram
from sentiment_devtools.experiment.visitors import VisitorSums
from sentiment_devtools.system import ARMS

SERVED = 'route!~"/metrics|/healthz|/readyz"'
ASSIGNMENTS = "experiment_assignments_total"
# The per-visitor sums, by VisitorSums field. Each only ever increases: a visitor's k-th
# review adds 2k - 1 to the sum of squares of reviews, their corrections C to the sum of M C.
VISITOR_SERIES = {
    "visitors": "experiment_visitors_total",
    "reviews": "reviews_submitted_total",
    "feedback": "user_feedback_total",
    "corrections": "user_corrections_total",
    "reviews_squared": "experiment_visitor_reviews_squared_total",
    "feedback_squared": "experiment_visitor_feedback_squared_total",
    "corrections_squared": "experiment_visitor_corrections_squared_total",
    "reviews_feedback": "experiment_visitor_reviews_feedback_total",
    "reviews_corrections": "experiment_visitor_reviews_corrections_total",
    "feedback_corrections": "experiment_visitor_feedback_corrections_total",
}


class QueryError(Exception):
    pass


@dataclass(frozen=True)
class Observation:
    """One arm since the start. None: the services do not export that series (yet)."""

    version: str
    assignments: int | None
    visitors: VisitorSums | None
    reviews: int
    feedback: int
    corrections: int
    latency: Histogram
    latency_mean: float | None  # seconds, for reading only: the guardrail tests the histogram
    errors: Counts  # 5xx answers of served requests


def queries(namespace: str, window: str) -> dict[str, str]:
    """The PromQL of every figure: sums by version over the window."""
    app = f'namespace="{namespace}", job="app-service"'

    def total(metric: str, selector: str = app) -> str:
        return f"sum by (version) (increase({metric}{{{selector}}}[{window}]))"

    return {
        "assignments": total(ASSIGNMENTS, f'namespace="{namespace}", job="app-frontend"'),
        **{f"visitors.{field}": total(metric) for field, metric in VISITOR_SERIES.items()},
        "latency_buckets": f"sum by (version, le) (increase(prediction_latency_seconds_bucket{{{app}}}[{window}]))",
        "latency_mean": f"{total('prediction_latency_seconds_sum')} / {total('prediction_latency_seconds_count')}",
        "requests": total("http_requests_total", f"{app}, {SERVED}"),
        "errors": total("http_requests_total", f'{app}, {SERVED}, status=~"5.."'),
    }


def read_arms(url: str, namespace: str, window_seconds: float, at: float) -> dict[str, Observation]:
    """Both arms' numbers over the `window_seconds` ending at `at` (Unix seconds)."""
    window = f"{max(1, math.ceil(window_seconds))}s"
    with httpx.Client(base_url=url, timeout=30.0) as client:
        results = {name: _query(client, query, at) for name, query in queries(namespace, window).items()}
    values = {name: _by_version(result) for name, result in results.items() if name != "latency_buckets"}
    buckets = _buckets(results["latency_buckets"])
    exported = {name: bool(by_version) for name, by_version in values.items()}
    return {version: _observation(version, values, exported, buckets) for version in ARMS}


def _observation(
    version: str, values: dict[str, dict[str, float]], exported: dict[str, bool], buckets: Histogram
) -> Observation:
    sums = {field: _count(values[f"visitors.{field}"], version) for field in VISITOR_SERIES}
    visitor_level = all(exported[f"visitors.{field}"] for field in VISITOR_SERIES)
    return Observation(
        version=version,
        assignments=_count(values["assignments"], version) if exported["assignments"] else None,
        visitors=VisitorSums(**sums) if visitor_level else None,
        reviews=sums["reviews"],
        feedback=sums["feedback"],
        corrections=sums["corrections"],
        latency=Histogram(buckets.bounds, buckets.cumulative[ARMS.index(version)]),
        latency_mean=_number(values["latency_mean"], version),
        errors=Counts(_count(values["errors"], version), _count(values["requests"], version)),
    )


def _query(client: httpx.Client, query: str, at: float) -> list[dict]:
    try:
        response = client.get("/api/v1/query", params={"query": query, "time": str(at)})
    except httpx.HTTPError as error:
        raise QueryError(f"cannot reach Prometheus at {client.base_url}: {error}") from error
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200 or body.get("status") != "success":
        raise QueryError(f"Prometheus refused {query!r}: {body.get('error', response.text)}")
    return body["data"]["result"]


def _by_version(result: list[dict]) -> dict[str, float]:
    return {sample["metric"].get("version", ""): float(sample["value"][1]) for sample in result}


def _buckets(result: list[dict]) -> Histogram:
    """Both arms' cumulative bucket counts on the bounds either has (the same code: the same bounds)."""
    counts = {(s["metric"].get("version", ""), float(s["metric"]["le"])): float(s["value"][1]) for s in result}
    bounds = tuple(sorted({le for _, le in counts} | {math.inf}))
    cumulative = [[_rounded(counts.get((version, le), 0.0)) for le in bounds] for version in ARMS]
    return Histogram(bounds, cumulative)


def _count(values: Mapping[str, float], version: str) -> int:
    return _rounded(values.get(version, 0.0))


def _rounded(value: float) -> int:
    return 0 if math.isnan(value) else round(value)


def _number(values: Mapping[str, float], version: str) -> float | None:
    value = values.get(version)
    return None if value is None or math.isnan(value) else value
