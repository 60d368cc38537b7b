"""Prometheus metrics of the app-frontend: page views and RED, every one labelled with its version."""

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075,
    0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self, version: str, release: str) -> None:
        self.version = version
        self.registry = CollectorRegistry()
        # Present on every scrape of a running process: the TargetDown alert looks for it.
        Gauge("app_info", "The running app-frontend (value 1).", ["version", "release"], registry=self.registry).labels(
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
        self.page_views = Counter(
            "page_views_total", "Review pages rendered.", ["version"], registry=self.registry
        ).labels(version)


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
