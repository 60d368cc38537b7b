"""Prometheus metrics of the model-service: the kit's (app_info, RED) and the model's, each labelled with its arm."""

from prometheus_client import Counter, Gauge, Histogram
from service_kit.metrics import ServiceMetrics, geometric_buckets

from model_service.manifest import ModelManifest

# One predict call takes about 0.5 ms with the compiled model (docs/model.md):
# buckets 10% apart from 0.1 ms to 20 ms, coarse above.
INFERENCE_BUCKETS = (*geometric_buckets(0.0001, 0.02, 1.1), 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LABELS = ("negative", "positive")


class Metrics(ServiceMetrics):
    def __init__(self, version: str, release: str) -> None:
        super().__init__("model-service", version, release)
        self.predictions = self.by_label(
            Counter, "model_predictions_total", "Reviews classified, by predicted label.", "label", LABELS
        )
        self.inference_seconds = self.of_this_arm(
            Histogram,
            "model_inference_seconds",
            "Time the model takes for one predict call.",
            buckets=INFERENCE_BUCKETS,
        )
        self.model_ready = self.of_this_arm(Gauge, "model_ready", "1 when the model is loaded and serving.")
        self.model_load_seconds = self.of_this_arm(
            Gauge, "model_load_seconds", "Time to fetch, verify and load the model."
        )
        self._model_info = Gauge(
            "model_info", "The served model (value 1).", ["version", "model_version", "model_sha256"],
            registry=self.registry,
        )  # fmt: skip

    def model_loaded(self, manifest: ModelManifest, seconds: float) -> None:
        self._model_info.labels(self.version, manifest.model_version, manifest.sha256).set(1)
        self.model_load_seconds.set(seconds)
        self.model_ready.set(1)
