"""The metrics every service has: its running release and RED per route, labelled with its arm.

Each service's own Metrics class adds its domain's metrics to the same registry.
"""

import time
from collections.abc import Iterable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MetricT = TypeVar("MetricT", Counter, Gauge, Histogram)

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


class ServiceMetrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self, service: str, version: str, release: str) -> None:
        self.version = version
        self.registry = CollectorRegistry()
        # Present on every scrape of a running process: the SentimentTargetDown alert looks for it.
        Gauge("app_info", f"The running {service} (value 1).", ["version", "release"], registry=self.registry).labels(
            version, release
        ).set(1)
        self.requests = Counter(
            "http_requests_total", "HTTP requests answered.", ["version", "route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request.", ["version", "route", "method"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip

    def of_this_arm(self, kind: type[MetricT], name: str, documentation: str, **options: Any) -> MetricT:
        """A metric labelled `version` only, bound to this process's arm: exported, at zero, from the start."""
        return kind(name, documentation, ["version"], registry=self.registry, **options).labels(self.version)

    def by_label(
        self, kind: type[MetricT], name: str, documentation: str, label: str, values: Iterable[str], **options: Any
    ) -> dict[str, MetricT]:
        """One metric of this arm per value of `label`, each exported, at zero, from the start."""
        family = kind(name, documentation, ["version", label], registry=self.registry, **options)
        return {value: family.labels(self.version, value) for value in values}

    def start_requests_at_zero(self, routes: Iterable[BaseRoute], statuses: Iterable[str]) -> None:
        """Create the request counters of every route and method at zero, for each status: without them,
        increase() misses each series' first request."""
        statuses = tuple(statuses)
        for route in routes:
            for method in getattr(route, "methods", None) or ():
                for status in statuses:
                    self.requests.labels(self.version, route.path, method, status)


class RequestMetricsMiddleware:
    """RED metrics per route template (never the raw path, which would explode cardinality).

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware costs far more per request.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
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
