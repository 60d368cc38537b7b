"""Prometheus metrics of the app-service: the experiment's and RED, every one labelled with its version.

The experiment's primary metric is the correction rate per version:
    sum by (version) (rate(user_corrections_total[1h])) / sum by (version) (rate(reviews_submitted_total[1h]))
Counters start at zero for every known label value, so a rate exists before the first event.
"""

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Fine below 10 ms, where a request's p95 lives, coarse above.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075,
    0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


def geometric_buckets(first: float, last: float, factor: float) -> tuple[float, ...]:
    """Bucket bounds from `first` to at least `last`, each `factor` times the one before (3 significant digits)."""
    bounds = [first]
    while bounds[-1] < last:
        bounds.append(float(f"{bounds[-1] * factor:.3g}"))
    return tuple(bounds)


# The experiment's latency guardrail compares the arms' p95 within 5%, so the
# buckets are 5% apart from 1 ms to 30 ms, where a prediction's p95 lives
# (make bench: 3 ms at the median, 7 ms at p99), then coarse up to the timeout.
PREDICTION_LATENCY_BUCKETS = (*geometric_buckets(0.001, 0.03, 1.05), 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LABELS = ("negative", "positive")
FEEDBACK_OUTCOMES = ("confirmed", "corrected")
MODEL_SERVICE_ERRORS = ("unavailable", "timeout", "bad_response")
# What the X-App-Version request header said; any other value is counted as "invalid", never echoed.
HEADER_VERSIONS = ("stable", "canary", "absent", "invalid")
# The answers of an API route whose counts the experiment reads (its error ratio): success, and the
# model-service or store failures. They start at zero, or increase() would miss each series' first request.
API_STATUSES = ("200", "502", "503")


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self, version: str, release: str) -> None:
        self.version = version
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests answered.", ["version", "route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request.", ["version", "route", "method"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.reviews_submitted = Counter(
            "reviews_submitted_total", "Reviews classified and stored.", ["version"], registry=self.registry
        ).labels(version)
        predictions = Counter(
            "predictions_total", "Predictions returned to users, by label.", ["version", "label"],
            registry=self.registry,
        )  # fmt: skip
        self.predictions = {label: predictions.labels(version, label) for label in LABELS}
        self.prediction_latency = Histogram(
            "prediction_latency_seconds", "Time of one call to the model-service, retry included, failed or not.",
            ["version"], buckets=PREDICTION_LATENCY_BUCKETS, registry=self.registry,
        ).labels(version)  # fmt: skip
        feedback = Counter(
            "user_feedback_total", "Feedback given on a prediction: confirmed or corrected.", ["version", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.feedback = {outcome: feedback.labels(version, outcome) for outcome in FEEDBACK_OUTCOMES}
        corrections = Counter(
            "user_corrections_total", "Predictions the user corrected, by predicted and corrected label.",
            ["version", "original_label", "corrected_label"], registry=self.registry,
        )  # fmt: skip
        self.corrections = {
            (original, corrected): corrections.labels(version, original, corrected)
            for original in LABELS
            for corrected in LABELS
            if original != corrected
        }
        self.awaiting_feedback = Gauge(
            "reviews_awaiting_feedback", "Stored reviews the user has not confirmed or corrected yet.", ["version"],
            registry=self.registry,
        ).labels(version)  # fmt: skip
        errors = Counter(
            "model_service_errors_total", "Failed calls to the model-service, by reason.", ["version", "reason"],
            registry=self.registry,
        )  # fmt: skip
        self.model_service_errors = {reason: errors.labels(version, reason) for reason in MODEL_SERVICE_ERRORS}
        header_versions = Counter(
            "requests_by_header_version_total", "API requests by the X-App-Version header they carried.",
            ["version", "header_version"], registry=self.registry,
        )  # fmt: skip
        self.header_versions = {value: header_versions.labels(version, value) for value in HEADER_VERSIONS}
        # Present on every scrape of a running process: the TargetDown alert looks for it.
        Gauge("app_info", "The running app-service (value 1).", ["version", "release"], registry=self.registry).labels(
            version, release
        ).set(1)

    def start_api_at_zero(self, routes: Iterable[BaseRoute]) -> None:
        """Create the request counters of every API route and method at zero, for each of API_STATUSES."""
        for route in routes:
            for method in getattr(route, "methods", None) or ():
                for status in API_STATUSES:
                    self.requests.labels(self.version, route.path, method, status)


class RequestMetricsMiddleware:
    """RED metrics per route template (never the raw path, which would explode cardinality).

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware costs far more per request.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            version = self._metrics.version
            self._metrics.requests.labels(version, route, method, str(status)).inc()
            self._metrics.request_seconds.labels(version, route, method).observe(time.perf_counter() - started)
