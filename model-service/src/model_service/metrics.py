"""Prometheus metrics of the model-service, every one labelled with its version."""

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_service.manifest import ModelManifest

# Fine below 10 ms, where a prediction's p95 lives, coarse above.
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


# One predict call takes about 0.5 ms with the compiled model (docs/model.md):
# buckets 10% apart from 0.1 ms to 20 ms, coarse above.
INFERENCE_BUCKETS = (*geometric_buckets(0.0001, 0.02, 1.1), 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LABELS = ("negative", "positive")


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self, version: str, release: str) -> None:
        self.version = version
        self.registry = CollectorRegistry()
        # Present on every scrape of a running process: the TargetDown alert looks for it.
        Gauge(
            "app_info", "The running model-service (value 1).", ["version", "release"], registry=self.registry
        ).labels(version, release).set(1)
        self.requests = Counter(
            "http_requests_total", "HTTP requests answered.", ["version", "route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request.", ["version", "route", "method"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        predictions = Counter(
            "model_predictions_total", "Reviews classified, by predicted label.", ["version", "label"],
            registry=self.registry,
        )  # fmt: skip
        self.predictions = {label: predictions.labels(version, label) for label in LABELS}
        self.inference_seconds = Histogram(
            "model_inference_seconds", "Time the model takes for one predict call.", ["version"],
            buckets=INFERENCE_BUCKETS, registry=self.registry,
        ).labels(version)  # fmt: skip
        self.model_ready = Gauge(
            "model_ready", "1 when the model is loaded and serving.", ["version"], registry=self.registry
        ).labels(version)
        self.model_load_seconds = Gauge(
            "model_load_seconds", "Time to fetch, verify and load the model.", ["version"], registry=self.registry
        ).labels(version)
        self._model_info = Gauge(
            "model_info", "The served model (value 1).", ["version", "model_version", "model_sha256"],
            registry=self.registry,
        )  # fmt: skip

    def model_loaded(self, manifest: ModelManifest, seconds: float) -> None:
        self._model_info.labels(self.version, manifest.model_version, manifest.sha256).set(1)
        self.model_load_seconds.set(seconds)
        self.model_ready.set(1)


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
