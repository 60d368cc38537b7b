"""Serves the restaurant-review sentiment model and trains its releases."""

from importlib.metadata import version

RELEASE = version("model-service")
