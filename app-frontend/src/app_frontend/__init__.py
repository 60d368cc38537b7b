"""The page of Sentiment Canary: write a review, see the verdict, confirm or correct it."""

from importlib.metadata import version

from service_kit.app import ServiceInfo

RELEASE = version("app-frontend")
SERVICE = ServiceInfo(
    "app-frontend", RELEASE, "The page where users classify restaurant reviews and correct the verdicts."
)
