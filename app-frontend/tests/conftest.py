"""Fixtures of the app-frontend tests: the app in process, built from explicit settings."""

from collections.abc import Iterator

import pytest
from app_frontend.app import create_app
from app_frontend.settings import Settings
from fastapi.testclient import TestClient

API_URL = "http://app-service.test:8201"


@pytest.fixture
def make_client() -> Iterator:
    """Start the app with settings overrides; every client is closed afterwards."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        settings = Settings(**{"app_service_public_url": API_URL, **overrides})
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
