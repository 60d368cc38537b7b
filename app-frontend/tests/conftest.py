"""Fixtures of the app-frontend tests: the app in process, built from explicit settings."""

from collections.abc import Iterator

import pytest
from app_frontend.app import create_app
from app_frontend.settings import Settings
from fastapi.testclient import TestClient
from support.clients import started_clients

API_URL = "http://app-service.test:8201"


@pytest.fixture
def make_client() -> Iterator:
    """Start the app with settings overrides; every client is closed afterwards."""
    with started_clients() as start:
        yield lambda **overrides: start(create_app(Settings(**{"app_service_public_url": API_URL, **overrides})))


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
