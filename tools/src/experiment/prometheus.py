"""Each arm's numbers over the experiment's window, from the Prometheus HTTP API.

Counts are `increase()` over the window, rounded: Prometheus extrapolates a
counter to the window's edges by at most one scrape interval, and not below
zero at its start (the services start every counter at zero), so a count is
exact when the window ends on a scrape and close to it otherwise.
"""

import math
from collections.abc import Mapping

import httpx

from experiment.decision import Arm

VERSIONS = ("stable", "canary")
SERVED = 'route!~"/metrics|/healthz|/readyz"'


class QueryError(Exception):
    pass


def queries(namespace: str, window: str) -> dict[str, str]:
    """The PromQL of every figure, by Arm field: sums by version over the window."""
    app = f'namespace="{namespace}", job="app-service"'

    def total(metric: str, selector: str = app) -> str:
        return f"sum by (version) (increase({metric}{{{selector}}}[{window}]))"

    return {
        "reviews": total("reviews_submitted_total"),
        "corrections": total("user_corrections_total"),
        "predictions": total("prediction_latency_seconds_count"),
        "latency_mean": f"{total('prediction_latency_seconds_sum')} / {total('prediction_latency_seconds_count')}",
        "latency_p95": (
            f"histogram_quantile(0.95, sum by (version, le) "
            f"(increase(prediction_latency_seconds_bucket{{{app}}}[{window}])))"
        ),
        "requests": total("http_requests_total", f"{app}, {SERVED}"),
        "errors": total("http_requests_total", f'{app}, {SERVED}, status=~"5.."'),
    }


def read_arms(url: str, namespace: str, window: str, at: float | None = None) -> dict[str, Arm]:
    """Both arms' numbers over `window` (a PromQL duration) ending at `at` (Unix seconds; default now)."""
    with httpx.Client(base_url=url, timeout=30.0) as client:
        values = {field: _by_version(client, query, at) for field, query in queries(namespace, window).items()}
    return {
        version: Arm(
            version=version,
            reviews=_count(values["reviews"], version),
            corrections=_count(values["corrections"], version),
            predictions=_count(values["predictions"], version),
            latency_mean=_number(values["latency_mean"], version),
            latency_p95=_number(values["latency_p95"], version),
            requests=_count(values["requests"], version),
            errors=_count(values["errors"], version),
        )
        for version in VERSIONS
    }


def _by_version(client: httpx.Client, query: str, at: float | None) -> dict[str, float]:
    params = {"query": query} | ({"time": str(at)} if at is not None else {})
    try:
        response = client.get("/api/v1/query", params=params)
    except httpx.HTTPError as error:
        raise QueryError(f"cannot reach Prometheus at {client.base_url}: {error}") from error
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200 or body.get("status") != "success":
        raise QueryError(f"Prometheus refused {query!r}: {body.get('error', response.text)}")
    return {sample["metric"].get("version", ""): float(sample["value"][1]) for sample in body["data"]["result"]}


def _count(values: Mapping[str, float], version: str) -> int:
    value = values.get(version, 0.0)
    return 0 if math.isnan(value) else round(value)


def _number(values: Mapping[str, float], version: str) -> float | None:
    value = values.get(version)
    return None if value is None or math.isnan(value) else value
