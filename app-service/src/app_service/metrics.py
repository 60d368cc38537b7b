"""Prometheus metrics of the app-service: the experiment's and RED, every one labelled with its version.

The experiment's primary metric is the correction rate per version:
    sum by (version) (rate(user_corrections_total[1h])) / sum by (version) (rate(reviews_submitted_total[1h]))
Counters start at zero for every known label value, so a rate exists before the first event.

The per-visitor sums of the experiment's delta method (visitor_sums.py) are counters too, named as the
experiment report reads them (tools/src/experiment/prometheus.py, VISITOR_SERIES): the sums of M, F and C
are reviews_submitted_total, user_feedback_total and user_corrections_total; the others are VISITOR_SUMS.
"""

from prometheus_client import Counter, Gauge, Histogram
from service_kit.metrics import ServiceMetrics, geometric_buckets

# The experiment's latency guardrail compares the arms' p95 within 5%, so the
# buckets are 5% apart from 1 ms to 30 ms, where a prediction's p95 lives (this
# histogram during make bench's full-path loads, 2026-12-01: p95 1.6 ms at
# concurrency 1, 8.2 ms at 8), then coarse up to the timeout.
PREDICTION_LATENCY_BUCKETS = (*geometric_buckets(0.001, 0.03, 1.05), 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LABELS = ("negative", "positive")
FEEDBACK_OUTCOMES = ("confirmed", "corrected")
MODEL_SERVICE_ERRORS = ("unavailable", "timeout", "bad_response")
# What the X-App-Version request header said; any other value is counted as "invalid", never echoed.
HEADER_VERSIONS = ("stable", "canary", "absent", "invalid")
# How the X-Visitor-Id header of a stored review was: a valid id, none, or anything else (stored as none).
VISITOR_ID_HEADERS = ("valid", "absent", "invalid")
# The per-visitor sums beside those of M, F and C, by visitor_sums.SUMS name: metric name and help.
VISITOR_SUMS = {
    "visitors": ("experiment_visitors_total", "Visitors with a review, in this arm's experiment (n)."),
    "reviews_squared": ("experiment_visitor_reviews_squared_total", "Sum over visitors of reviews squared (M^2)."),
    "feedback_squared": (
        "experiment_visitor_feedback_squared_total", "Sum over visitors of reviews with feedback squared (F^2).",
    ),
    "corrections_squared": (
        "experiment_visitor_corrections_squared_total", "Sum over visitors of corrections squared (C^2).",
    ),
    "reviews_feedback": (
        "experiment_visitor_reviews_feedback_total", "Sum over visitors of reviews times reviews with feedback (M F).",
    ),
    "reviews_corrections": (
        "experiment_visitor_reviews_corrections_total", "Sum over visitors of reviews times corrections (M C).",
    ),
    "feedback_corrections": (
        "experiment_visitor_feedback_corrections_total",
        "Sum over visitors of reviews with feedback times corrections (F C).",
    ),
}  # fmt: skip
# The answers of an API route whose counts the experiment reads (its error ratio): success, and the
# model-service or store failures. They start at zero, or increase() would miss each series' first request.
API_STATUSES = ("200", "502", "503")


class Metrics(ServiceMetrics):
    """The kit's (app_info, RED) and the experiment's, in one registry."""

    def __init__(self, version: str, release: str) -> None:
        super().__init__("app-service", version, release)
        self.reviews_submitted = self.of_this_arm(Counter, "reviews_submitted_total", "Reviews classified and stored.")
        self.predictions = self.by_label(
            Counter, "predictions_total", "Predictions returned to users, by label.", "label", LABELS
        )
        self.prediction_latency = self.of_this_arm(
            Histogram, "prediction_latency_seconds",
            "Time of one call to the model-service, retry included, failed or not.", buckets=PREDICTION_LATENCY_BUCKETS,
        )  # fmt: skip
        self.feedback = self.by_label(
            Counter, "user_feedback_total", "Feedback given on a prediction: confirmed or corrected.", "outcome",
            FEEDBACK_OUTCOMES,
        )  # fmt: skip
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
        self.awaiting_feedback = self.of_this_arm(
            Gauge, "reviews_awaiting_feedback", "Stored reviews the user has not confirmed or corrected yet."
        )
        self.model_service_errors = self.by_label(
            Counter, "model_service_errors_total", "Failed calls to the model-service, by reason.", "reason",
            MODEL_SERVICE_ERRORS,
        )  # fmt: skip
        self.visitor_id_headers = self.by_label(
            Counter, "reviews_by_header_visitor_id_total",
            "Reviews stored, by their X-Visitor-Id header: a valid id, or none (absent, invalid) stored.",
            "header_visitor_id", VISITOR_ID_HEADERS,
        )  # fmt: skip
        self.visitor_sums = {
            name: self.of_this_arm(Counter, metric, documentation)
            for name, (metric, documentation) in VISITOR_SUMS.items()
        }
        self.header_versions = self.by_label(
            Counter, "requests_by_header_version_total", "API requests by the X-App-Version header they carried.",
            "header_version", HEADER_VERSIONS,
        )  # fmt: skip
