"""Serves the restaurant-review sentiment model and trains its releases."""

from importlib.metadata import version

from service_kit.app import ServiceInfo

RELEASE = version("model-service")
SERVICE = ServiceInfo(
    "model-service", RELEASE, "Restaurant-review sentiment predictions from a sha256-pinned scikit-learn model."
)
