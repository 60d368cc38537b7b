"""The page of Sentiment Canary: write a review, see the verdict, confirm or correct it."""

from importlib.metadata import version

RELEASE = version("app-frontend")
