"""The REST API of Sentiment Canary: predictions through the model-service, stored reviews and feedback."""

from importlib.metadata import version

RELEASE = version("app-service")
