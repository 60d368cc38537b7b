"""The REST API of Sentiment Canary: predictions through the model-service, stored reviews and feedback."""

from importlib.metadata import version

from service_kit.app import ServiceInfo

RELEASE = version("app-service")
SERVICE = ServiceInfo(
    "app-service", RELEASE, "Classifies restaurant reviews through the model-service and keeps the users' feedback."
)
